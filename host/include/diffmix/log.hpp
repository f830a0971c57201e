// Logging setup. diffmix logs with spdlog; plugins' messages arrive through the ABI's log callback and land in the
// same sinks under the plugin's name.
#pragma once

#include <string>

namespace dmx::log {

// Sets the level from `level` ("trace", "debug", "info", "warn", "error", "off"); an empty string means
// $SPDLOG_LEVEL if set, else "info". An unknown name is a dmx::Error naming it.
void setup(const std::string& level = "");

}  // namespace dmx::log
