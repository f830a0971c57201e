#include "diffmix/log.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "diffmix/error.hpp"

namespace dmx::log {
namespace {
bool g_level_chosen = false;  // by --log-level or $SPDLOG_LEVEL

spdlog::level::level_enum parse_level(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    throw config_error("unknown log level '" + level + "' (one of trace, debug, info, warn, error, off)");
  return parsed;
}
}  // namespace

const std::vector<std::string>& level_names() {
  static const std::vector<std::string> names{"trace", "debug", "info", "warn", "error", "off"};
  return names;
}

void apply_config_level(const std::string& level) {
  if (level.empty() || g_level_chosen) return;
  spdlog::set_level(parse_level(level));
}

void setup(const std::string& level) {
  spdlog::default_logger()->set_level(spdlog::level::info);
  if (spdlog::default_logger()->name().empty()) spdlog::set_default_logger(spdlog::default_logger()->clone("diffmix"));
  spdlog::set_pattern("[%H:%M:%S.%e] [%n] [%^%l%$] %v");
  if (level.empty()) {
    spdlog::set_level(spdlog::level::info);
    g_level_chosen = std::getenv("SPDLOG_LEVEL") != nullptr;
    spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL=debug, or per logger: SPDLOG_LEVEL=info,cutmix=trace
    return;
  }
  g_level_chosen = true;
  spdlog::set_level(parse_level(level));
}

}  // namespace dmx::log
