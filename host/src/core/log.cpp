#include "diffmix/log.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "diffmix/error.hpp"

namespace dmx::log {

void setup(const std::string& level) {
  spdlog::default_logger()->set_level(spdlog::level::info);
  if (spdlog::default_logger()->name().empty()) spdlog::set_default_logger(spdlog::default_logger()->clone("diffmix"));
  spdlog::set_pattern("[%H:%M:%S.%e] [%n] [%^%l%$] %v");
  if (level.empty()) {
    spdlog::set_level(spdlog::level::info);
    spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL=debug, or per logger: SPDLOG_LEVEL=info,cutmix=trace
    return;
  }
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    throw config_error("unknown log level '" + level + "' (one of trace, debug, info, warn, error, off)");
  spdlog::set_level(parsed);
}

}  // namespace dmx::log
