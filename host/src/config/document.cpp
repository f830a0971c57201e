#include <fstream>
#include <sstream>

#include "diffmix/config.hpp"
#include "diffmix/error.hpp"
#include "document_state.hpp"

namespace dmx::config {


namespace {

std::string describe_parse_error(const toml::parse_error& e, const std::string& source) {
  const auto& begin = e.source().begin;
  std::ostringstream out;
  out << source << ':' << begin.line << ':' << begin.column << ": " << e.description();
  return out.str();
}

}  // namespace

Document Document::parse_string(std::string_view text, const std::string& source_name) {
  Document doc;
  doc.state_ = std::make_shared<State>();
  doc.state_->source = source_name;
  try {
    doc.state_->tree = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    throw config_error(describe_parse_error(e, source_name));
  }
  doc.root_ = make_root(doc.state_);
  return doc;
}

Document Document::parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw not_found("cannot open config file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw io_error_from_errno("cannot read config file '" + path + "'");
  Document doc = parse_string(text.str(), path);
  // Every command needs at least one setting; running on defaults alone would hide a wrong or truncated file.
  if (doc.tree().empty())
    throw config_error(path + ": the config file holds no settings (an empty or commented-out file; is it the right "
                       "one?)");
  return doc;
}

const std::string& Document::source() const { return state_->source; }
const toml::table& Document::tree() const { return state_->tree; }

}  // namespace dmx::config
