#include "manifest_format.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

#include "diffmix/error.hpp"

namespace dmx::data {

namespace {

// The parser quotes the bytes it stopped at; a binary file's would garble a terminal, so they are written as \xNN.
std::string printable(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  return out;
}

}  // namespace

SyntheticRecord parse_manifest_line(const std::string& line, const std::string& where) {
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& error) {
    throw format_error(where + ": not valid JSON: " + printable(error.what()));
  }
  if (!object.is_object()) throw format_error(where + ": expected a JSON object");
  auto field = [&](const char* key, auto check, const char* expected) -> const nlohmann::json& {
    const auto it = object.find(key);
    if (it == object.end()) throw format_error(where + ": missing key '" + key + "'");
    if (!check(*it)) throw format_error(where + ": key '" + key + "' must be " + expected);
    return *it;
  };
  const auto is_string = [](const nlohmann::json& j) { return j.is_string(); };
  const auto is_integer = [](const nlohmann::json& j) { return j.is_number_integer(); };
  const auto is_number = [](const nlohmann::json& j) { return j.is_number(); };
  const auto is_unsigned = [](const nlohmann::json& j) { return j.is_number_unsigned(); };

  SyntheticRecord record;
  record.path = field("path", is_string, "a string").get<std::string>();
  record.source_class = field("source_class", is_integer, "an integer").get<int64_t>();
  record.target_class = field("target_class", is_integer, "an integer").get<int64_t>();
  record.strength = field("strength", is_number, "a number").get<double>();
  if (object.contains("seed")) record.seed = field("seed", is_unsigned, "a non-negative integer").get<uint64_t>();
  if (object.contains("soft_label")) {
    const auto& label = object["soft_label"];
    if (!label.is_array()) throw format_error(where + ": key 'soft_label' must be an array of numbers");
    for (const auto& value : label) {
      if (!value.is_number()) throw format_error(where + ": key 'soft_label' must be an array of numbers");
      record.soft_label.push_back(value.get<float>());
    }
  }
  return record;
}

std::string format_manifest_line(const SyntheticRecord& record) {
  nlohmann::json object = {{"path", record.path},
                           {"source_class", record.source_class},
                           {"target_class", record.target_class},
                           {"strength", record.strength},
                           {"seed", record.seed}};
  if (!record.soft_label.empty()) object["soft_label"] = record.soft_label;
  return object.dump();
}

void check_record(const SyntheticRecord& record, int64_t num_classes, const std::string& where) {
  const std::string range = " outside [0, " + std::to_string(num_classes) + ")";
  if (record.source_class < 0 || record.source_class >= num_classes)
    throw format_error(where + ": source_class " + std::to_string(record.source_class) + range);
  if (record.target_class < 0 || record.target_class >= num_classes)
    throw format_error(where + ": target_class " + std::to_string(record.target_class) + range);
  if (!(record.strength >= 0.0 && record.strength <= 1.0))
    throw format_error(where + ": strength " + std::to_string(record.strength) + " outside [0, 1]");
  if (record.path.empty() || record.path[0] == '/' || record.path.find("..") != std::string::npos)
    throw format_error(where + ": path '" + record.path + "' must be relative to the cache folder");
  if (!record.soft_label.empty()) {
    if (static_cast<int64_t>(record.soft_label.size()) != num_classes)
      throw format_error(where + ": soft_label has " + std::to_string(record.soft_label.size()) +
                         " values, expected " + std::to_string(num_classes));
    for (const float value : record.soft_label)
      if (!std::isfinite(value) || value < 0.0f) throw format_error(where + ": soft_label values must be >= 0");
  }
}

}  // namespace dmx::data
