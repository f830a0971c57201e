// Typed reading of a diffusers / transformers config.json. Every failure names the file and the key:
//   "model/unet/config.json: key 'block_out_channels' must be an array of integers, got "abc"".
//
//   auto config = ConfigFile::open(folder + "/text_encoder/config.json");
//   int64_t layers = config.integer("num_hidden_layers");
//   double eps = config.number("layer_norm_eps", 1e-5);          // fallback when the key is absent or null
//   auto vision = config.section("vision_config");                // a nested object, errors named "file: vision_config.key"
//
// Python's json module writes the non-standard tokens Infinity, -Infinity and NaN (e.g. the scheduler's
// "lambda_min_clipped": -Infinity); they are accepted and read back by number().
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

class ConfigFile {
 public:
  static ConfigFile open(const std::string& path);  // NotFound / Format error naming the file
  static ConfigFile parse(const std::string& text, const std::string& source);
  ConfigFile(nlohmann::json json, std::string source, std::string key_prefix = "");

  const std::string& source() const { return source_; }
  const nlohmann::json& json() const { return json_; }
  bool has_value(const std::string& key) const;  // present and not null

  int64_t integer(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const;
  double number(const std::string& key, std::optional<double> fallback = std::nullopt) const;
  bool boolean(const std::string& key, std::optional<bool> fallback = std::nullopt) const;
  std::string string(const std::string& key, std::optional<std::string> fallback = std::nullopt) const;
  std::vector<int64_t> integers(const std::string& key) const;
  std::vector<double> numbers(const std::string& key) const;
  std::vector<std::string> strings(const std::string& key) const;
  ConfigFile section(const std::string& key) const;  // a nested object

 private:
  const nlohmann::json* find(const std::string& key) const;
  [[noreturn]] void wrong_type(const std::string& key, const char* expected) const;

  nlohmann::json json_;
  std::string source_;
  std::string key_prefix_;  // "vision_config." inside a section, for messages
};

}  // namespace dmx::sd
