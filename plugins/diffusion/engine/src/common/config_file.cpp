#include "diffmix/sd/config_file.hpp"

#include "diffmix/error.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

namespace dmx::sd {

namespace {

// Quotes Python's bare Infinity / -Infinity / NaN tokens (outside string literals) so that a strict JSON parser
// accepts them; number() turns the strings back into values.
std::string quote_python_constants(const std::string& text) {
  static const char* kTokens[] = {"-Infinity", "Infinity", "NaN"};
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const char* token : kTokens) {
      const std::string t(token);
      if (text.compare(i, t.size(), t) == 0) {
        out += '"' + t + '"';
        i += t.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

std::optional<double> python_constant(const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  const auto& s = value.get_ref<const std::string&>();
  if (s == "Infinity") return std::numeric_limits<double>::infinity();
  if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  return std::nullopt;
}

}  // namespace

ConfigFile ConfigFile::open(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw dmx::not_found(path + ": cannot open the config file");
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

ConfigFile ConfigFile::parse(const std::string& text, const std::string& source) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(quote_python_constants(text));
  } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number beyond double (out_of_range)
    throw dmx::format_error(source + ": not valid JSON: " + e.what());
  }
  return ConfigFile(std::move(json), source);
}

ConfigFile::ConfigFile(nlohmann::json json, std::string source, std::string key_prefix)
    : json_(std::move(json)), source_(std::move(source)), key_prefix_(std::move(key_prefix)) {
  if (!json_.is_object()) {
    throw dmx::config_error(source_ + ": " + (key_prefix_.empty() ? std::string("the config") : key_prefix_) +
                            " must be a JSON object");
  }
}

const nlohmann::json* ConfigFile::find(const std::string& key) const {
  const auto it = json_.find(key);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool ConfigFile::has_value(const std::string& key) const { return find(key) != nullptr; }

void ConfigFile::wrong_type(const std::string& key, const char* expected) const {
  const auto* value = find(key);
  throw dmx::config_error(source_ + ": key '" + key_prefix_ + key + "' must be " + expected +
                          (value ? ", got " + value->dump() : std::string(", but it is missing")));
}

int64_t ConfigFile::integer(const std::string& key, std::optional<int64_t> fallback) const {
  const auto* value = find(key);
  if (!value && fallback) return *fallback;
  if (!value || !value->is_number_integer()) wrong_type(key, "an integer");
  return value->get<int64_t>();
}

double ConfigFile::number(const std::string& key, std::optional<double> fallback) const {
  const auto* value = find(key);
  if (!value && fallback) return *fallback;
  if (value) {
    if (value->is_number()) return value->get<double>();
    if (const auto constant = python_constant(*value)) return *constant;
  }
  wrong_type(key, "a number");
}

bool ConfigFile::boolean(const std::string& key, std::optional<bool> fallback) const {
  const auto* value = find(key);
  if (!value && fallback) return *fallback;
  if (!value || !value->is_boolean()) wrong_type(key, "true or false");
  return value->get<bool>();
}

std::string ConfigFile::string(const std::string& key, std::optional<std::string> fallback) const {
  const auto* value = find(key);
  if (!value && fallback) return *fallback;
  if (!value || !value->is_string()) wrong_type(key, "a string");
  return value->get<std::string>();
}

std::vector<int64_t> ConfigFile::integers(const std::string& key) const {
  const auto* value = find(key);
  if (!value || !value->is_array()) wrong_type(key, "an array of integers");
  std::vector<int64_t> out;
  for (const auto& item : *value) {
    if (!item.is_number_integer()) wrong_type(key, "an array of integers");
    out.push_back(item.get<int64_t>());
  }
  return out;
}

std::vector<double> ConfigFile::numbers(const std::string& key) const {
  const auto* value = find(key);
  if (!value || !value->is_array()) wrong_type(key, "an array of numbers");
  std::vector<double> out;
  for (const auto& item : *value) {
    if (!item.is_number()) wrong_type(key, "an array of numbers");
    out.push_back(item.get<double>());
  }
  return out;
}

std::vector<std::string> ConfigFile::strings(const std::string& key) const {
  const auto* value = find(key);
  if (!value || !value->is_array()) wrong_type(key, "an array of strings");
  std::vector<std::string> out;
  for (const auto& item : *value) {
    if (!item.is_string()) wrong_type(key, "an array of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

ConfigFile ConfigFile::section(const std::string& key) const {
  const auto* value = find(key);
  if (!value || !value->is_object()) wrong_type(key, "an object");
  return ConfigFile(*value, source_, key_prefix_ + key + ".");
}

}  // namespace dmx::sd
