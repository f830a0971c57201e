#include "host_services.hpp"

#include "diffmix/plugin.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "diffmix/cancellation.hpp"
#include "diffmix/progress.hpp"

namespace dmx {
namespace {

// Plugins log under their own name into the default logger's sinks, so `SPDLOG_LEVEL=cutmix=debug` works.
std::shared_ptr<spdlog::logger> logger_for(const char* source) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<spdlog::logger>> loggers;
  const std::string name = source && *source ? source : "plugin";
  std::lock_guard<std::mutex> lock(mutex);
  auto& logger = loggers[name];
  if (!logger) logger = spdlog::default_logger()->clone(name);
  return logger;
}

void host_log(void*, dmx_log_level level, const char* source, const char* message) {
  static const spdlog::level::level_enum levels[] = {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                                                     spdlog::level::warn, spdlog::level::err};
  const auto index = static_cast<unsigned>(level) <= 4 ? static_cast<unsigned>(level) : 2u;
  logger_for(source)->log(levels[index], "{}", message ? message : "");
}

void host_progress(void*, const char* task, uint64_t done, uint64_t total) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Progress>> reporters;
  const std::string name = task ? task : "plugin";
  std::lock_guard<std::mutex> lock(mutex);
  auto& reporter = reporters[name];
  if (!reporter) reporter = std::make_unique<Progress>(name, total);
  reporter->set(done);
  if (total > 0 && done >= total) reporters.erase(name);
}

int32_t host_is_cancelled(void*) { return cancel_requested() ? 1 : 0; }

}  // namespace

const dmx_host* host_services() {
  static const dmx_host host{sizeof(dmx_host), {DMX_ABI_VERSION_MAJOR, DMX_ABI_VERSION_MINOR}, nullptr,
                             &host_log,        &host_progress,                               &host_is_cancelled};
  return &host;
}

ErrorCategory category_of(dmx_status status) { return plugin::category_of(status); }

}  // namespace dmx
