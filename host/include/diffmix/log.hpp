// Logging setup. diffmix logs with spdlog; plugins' messages arrive through the ABI's log callback and land in the
// same sinks under the plugin's name.
#pragma once

#include <string>
#include <vector>

namespace dmx::log {

// Sets the level from `level` ("trace", "debug", "info", "warn", "error", "off"); an empty string means
// $SPDLOG_LEVEL if set, else "info". An unknown name is a dmx::Error naming it.
void setup(const std::string& level = "");

// A config file's `log_level`: applied unless the command line or $SPDLOG_LEVEL already chose one.
void apply_config_level(const std::string& level);

// The names accepted for a level, for config validation.
const std::vector<std::string>& level_names();

}  // namespace dmx::log
