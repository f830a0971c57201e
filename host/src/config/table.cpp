#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "diffmix/config.hpp"
#include "diffmix/error.hpp"
#include "document_state.hpp"

namespace dmx::config {

struct Table::State {
  const toml::table* table = nullptr;
  std::string source;
  std::string path;
  std::shared_ptr<const void> owner;  // keeps the parsed document alive while any Table points into it
  std::set<std::string, std::less<>> read;
  std::vector<Table> children;
};

namespace {

std::string position(const toml::source_region& region, const std::string& source) {
  std::ostringstream out;
  out << source << ':' << region.begin.line << ':' << region.begin.column;
  return out.str();
}

std::string format_number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string describe_range(const Range& r) {
  const bool has_min = std::isfinite(r.min), has_max = std::isfinite(r.max);
  if (has_min && has_max) return "between " + format_number(r.min) + " and " + format_number(r.max);
  if (has_min) return ">= " + format_number(r.min);
  if (has_max) return "<= " + format_number(r.max);
  return "";
}

const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "'" : ", '") + item + "'";
  return out;
}

}  // namespace

Table::Table(const toml::table& table, std::string source, std::string path) : state_(std::make_shared<State>()) {
  state_->table = &table;
  state_->source = std::move(source);
  state_->path = std::move(path);
}

const std::string& Table::path() const { return state_->path; }
const std::string& Table::source() const { return state_->source; }
const toml::table& Table::raw() const { return *state_->table; }

bool Table::has(std::string_view key) const { return state_->table->contains(key); }

const toml::node* Table::find(std::string_view key) const {
  state_->read.emplace(key);
  return state_->table->get(key);
}

std::string Table::where(std::string_view key) const {
  if (const auto* node = state_->table->get(key)) return position(node->source(), state_->source);
  return position(state_->table->source(), state_->source);
}

void Table::fail(std::string_view key, const std::string& message) const {
  const std::string section = state_->path.empty() ? "" : " in [" + state_->path + "]";
  throw config_error(where(key) + ": key '" + std::string(key) + "'" + section + ": " + message);
}

const toml::node& Table::require(std::string_view key) const {
  const auto* node = find(key);
  if (!node) {
    const std::string section = state_->path.empty() ? "the top level" : "[" + state_->path + "]";
    throw config_error(where(key) + ": missing required key '" + std::string(key) + "' in " + section);
  }
  return *node;
}

double Table::required_number(std::string_view key, Range range) const {
  const auto& node = require(key);
  double value = 0;
  if (auto v = node.value_exact<double>()) value = *v;
  else if (auto i = node.value_exact<int64_t>()) value = static_cast<double>(*i);
  else fail(key, std::string("must be a number, got ") + type_name(node));
  if (!(value >= range.min && value <= range.max))
    fail(key, "must be " + describe_range(range) + ", got " + format_number(value));
  return value;
}

double Table::number(std::string_view key, double fallback, Range range) const {
  return find(key) ? required_number(key, range) : fallback;
}

int64_t Table::required_integer(std::string_view key, Range range) const {
  const auto& node = require(key);
  auto v = node.value_exact<int64_t>();
  if (!v) fail(key, std::string("must be an integer, got ") + type_name(node));
  if (!(static_cast<double>(*v) >= range.min && static_cast<double>(*v) <= range.max))
    fail(key, "must be " + describe_range(range) + ", got " + std::to_string(*v));
  return *v;
}

int64_t Table::integer(std::string_view key, int64_t fallback, Range range) const {
  return find(key) ? required_integer(key, range) : fallback;
}

bool Table::boolean(std::string_view key, bool fallback) const {
  const auto* node = find(key);
  if (!node) return fallback;
  auto v = node->value_exact<bool>();
  if (!v) fail(key, std::string("must be true or false, got ") + type_name(*node));
  return *v;
}

std::string Table::required_string(std::string_view key, const std::vector<std::string>& allowed) const {
  const auto& node = require(key);
  auto v = node.value_exact<std::string>();
  if (!v) fail(key, std::string("must be a string, got ") + type_name(node));
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
    std::string message = "unknown value '" + *v + "'";
    if (auto guess = nearest_name(*v, allowed)) message += "; did you mean '" + *guess + "'?";
    fail(key, message + " (one of " + join(allowed) + ")");
  }
  return *v;
}

std::string Table::string(std::string_view key, const std::string& fallback,
                          const std::vector<std::string>& allowed) const {
  return find(key) ? required_string(key, allowed) : fallback;
}

std::optional<std::string> Table::optional_string(std::string_view key) const {
  if (!find(key)) return std::nullopt;
  return required_string(key);
}

namespace {

template <typename T, typename Convert>
std::vector<T> read_list(const Table& t, const toml::node* node, std::string_view key, const char* what,
                         Convert convert) {
  std::vector<T> out;
  const auto* array = node->as_array();
  if (!array) throw config_error(t.where(key) + ": key '" + std::string(key) + "' must be an array of " + what);
  for (const auto& element : *array) {
    auto value = convert(element);
    if (!value)
      throw config_error(position(element.source(), t.source()) + ": key '" + std::string(key) +
                         "': every element must be " + what + ", got " + type_name(element));
    out.push_back(*value);
  }
  return out;
}

}  // namespace

std::vector<std::string> Table::string_list(std::string_view key, const std::vector<std::string>& fallback) const {
  const auto* node = find(key);
  if (!node) return fallback;
  return read_list<std::string>(*this, node, key, "strings",
                                [](const toml::node& n) { return n.value_exact<std::string>(); });
}

std::vector<double> Table::number_list(std::string_view key, const std::vector<double>& fallback, Range range) const {
  const auto* node = find(key);
  if (!node) return fallback;
  auto values = read_list<double>(*this, node, key, "numbers", [](const toml::node& n) -> std::optional<double> {
    if (auto d = n.value_exact<double>()) return *d;
    if (auto i = n.value_exact<int64_t>()) return static_cast<double>(*i);
    return std::nullopt;
  });
  for (double v : values)
    if (!(v >= range.min && v <= range.max)) fail(key, "every element must be " + describe_range(range) + ", got " + format_number(v));
  return values;
}

std::vector<int64_t> Table::integer_list(std::string_view key, const std::vector<int64_t>& fallback, Range range) const {
  const auto* node = find(key);
  if (!node) return fallback;
  auto values = read_list<int64_t>(*this, node, key, "integers",
                                   [](const toml::node& n) { return n.value_exact<int64_t>(); });
  for (int64_t v : values)
    if (!(static_cast<double>(v) >= range.min && static_cast<double>(v) <= range.max))
      fail(key, "every element must be " + describe_range(range) + ", got " + std::to_string(v));
  return values;
}

std::optional<Table> Table::table(std::string_view key) const {
  const auto* node = find(key);
  if (!node) return std::nullopt;
  const auto* sub = node->as_table();
  if (!sub) fail(key, std::string("must be a table, got ") + type_name(*node));
  auto state = std::make_shared<State>();
  state->table = sub;
  state->source = state_->source;
  state->path = state_->path.empty() ? std::string(key) : state_->path + "." + std::string(key);
  state->owner = state_->owner;
  Table child(std::move(state));
  state_->children.push_back(child);
  return child;
}

std::vector<Table> Table::table_array(std::string_view key) const {
  const auto* node = find(key);
  if (!node) return {};
  const auto* array = node->as_array();
  if (!array) fail(key, std::string("must be an array of tables, got ") + type_name(*node));
  std::vector<Table> tables;
  for (size_t i = 0; i < array->size(); ++i) {
    const auto* sub = (*array)[i].as_table();
    if (!sub)
      throw config_error(position((*array)[i].source(), state_->source) + ": key '" + std::string(key) + "' element " +
                         std::to_string(i) + " must be a table, got " + type_name((*array)[i]));
    auto state = std::make_shared<State>();
    state->table = sub;
    state->source = state_->source;
    const std::string base = state_->path.empty() ? std::string(key) : state_->path + "." + std::string(key);
    state->path = base + "[" + std::to_string(i) + "]";
    state->owner = state_->owner;
    Table child(std::move(state));
    state_->children.push_back(child);
    tables.push_back(child);
  }
  return tables;
}

void Table::skip(std::string_view key) const { state_->read.emplace(key); }

void Table::finish() const {
  std::vector<std::string> known(state_->read.begin(), state_->read.end());
  for (const auto& [key, node] : *state_->table) {
    if (state_->read.count(key.str())) continue;
    std::string message = position(key.source(), state_->source) + ": unknown key '" + std::string(key.str()) + "'";
    message += state_->path.empty() ? " at the top level" : " in [" + state_->path + "]";
    if (auto guess = nearest_name(key.str(), known)) {
      message += "; did you mean '" + *guess + "'?";
    } else if (!known.empty()) {
      // Nothing is close enough to suggest: list what the table takes (`known` is sorted: it came from a set).
      message += "; its keys are";
      for (size_t i = 0; i < known.size(); ++i) message += (i ? ", " : " ") + known[i];
    }
    throw config_error(message);
  }
  for (const auto& child : state_->children) child.finish();
}

std::string Table::to_toml() const { return toml_document(*state_->table); }

namespace {
void write_as_sections(toml::table& table) {
  table.is_inline(false);
  for (auto&& [key, value] : table)
    if (auto* inner = value.as_table()) write_as_sections(*inner);
}
}  // namespace

std::string toml_document(toml::table table) {
  write_as_sections(table);
  std::ostringstream out;
  out << toml::toml_formatter(table);
  return out.str();
}

}  // namespace dmx::config

namespace dmx::config {

// Defined here because they need Table's state: the root table shares ownership of the document.
Table Document::root() const { return Table(root_); }

std::shared_ptr<Table::State> Document::make_root(const std::shared_ptr<State>& state) {
  auto root = std::make_shared<Table::State>();
  root->table = &state->tree;
  root->source = state->source;
  root->owner = state;
  return root;
}

}  // namespace dmx::config
