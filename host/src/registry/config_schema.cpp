#include "config_schema.hpp"

#include <nlohmann/json.hpp>

#include <limits>

#include "diffmix/error.hpp"

namespace dmx {
namespace {

config::Range range_of(const nlohmann::json& entry) {
  config::Range range;
  if (entry.contains("min")) range.min = entry.at("min").get<double>();
  if (entry.contains("max")) range.max = entry.at("max").get<double>();
  return range;
}

void check_key(const config::Table& table, const nlohmann::json& entry);

// A sub-table's keys are those of its "keys" array; the parent's finish() covers them.
void check_table(const config::Table& table, const nlohmann::json& entry, const std::string& key) {
  const auto sub = table.table(key);
  if (!sub) {
    if (table.has(key)) throw config_error(table.where(key) + ": key '" + key + "' must be a table");
    table.skip(key);
    return;
  }
  if (entry.contains("keys"))
    for (const auto& inner : entry.at("keys")) check_key(*sub, inner);
}

void check_key(const config::Table& table, const nlohmann::json& entry) {
  const auto key = entry.at("key").get<std::string>();
  const auto type = entry.at("type").get<std::string>();
  if (type == "float") {
    table.number(key, 0.0, range_of(entry));
  } else if (type == "integer") {
    table.integer(key, 0, range_of(entry));
  } else if (type == "float_list") {
    table.number_list(key, {}, range_of(entry));
  } else if (type == "table") {
    check_table(table, entry, key);
  } else if (type == "boolean") {
    table.boolean(key, false);
  } else if (type == "string") {
    std::vector<std::string> choices;
    if (entry.contains("choices")) choices = entry.at("choices").get<std::vector<std::string>>();
    if (table.has(key)) table.required_string(key, choices);
    else table.skip(key);
  } else {
    throw plugin_error("schema key '" + key + "' has unknown type '" + type + "'");
  }
}

}  // namespace

void check_against_schema(const config::Table& table, const char* schema_json, const std::string& augmenter) {
  table.skip("augmenter");
  if (schema_json && *schema_json) {
    nlohmann::json schema;
    try {
      schema = nlohmann::json::parse(schema_json);
      if (!schema.is_array()) throw plugin_error("augmenter '" + augmenter + "': config schema is not a JSON array");
      for (const auto& entry : schema) check_key(table, entry);
    } catch (const nlohmann::json::exception& e) {
      throw plugin_error("augmenter '" + augmenter + "': malformed config schema: " + e.what());
    }
  }
  table.finish();
}

}  // namespace dmx
