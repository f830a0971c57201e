// A plugin's log callback lands in the host's spdlog sinks under the plugin's name.
#include <gtest/gtest.h>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "../common/test_env.hpp"
#include "diffmix/error.hpp"
#include "diffmix/log.hpp"
#include "diffmix/registry.hpp"

namespace {

TEST(PluginLogging, MessagesReachTheHostSinksUnderThePluginName) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  auto logger = std::make_shared<spdlog::logger>("diffmix", sink);
  logger->set_level(spdlog::level::trace);
  logger->set_pattern("[%n] [%l] %v");
  spdlog::set_default_logger(logger);

  dmx::RegistryOptions options;
  options.search_paths = {dmx::test::test_plugin_dir() + "/c_negate.so"};
  options.use_environment = false;
  options.use_install_dir = false;
  dmx::PluginRegistry registry(options);

  bool found = false;
  for (const auto& line : sink->last_formatted()) found |= line.find("[c_negate] [debug] loaded") != std::string::npos;
  EXPECT_TRUE(found) << "the plugin's 'loaded' message did not reach the sink";
}

}  // namespace

namespace {

TEST(LogLevel, ConfigLevelAppliesUnlessTheCommandLineChoseOne) {
  unsetenv("SPDLOG_LEVEL");
  dmx::log::setup("");
  dmx::log::apply_config_level("warn");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);

  dmx::log::setup("debug");  // --log-level debug
  dmx::log::apply_config_level("error");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
}

TEST(LogLevel, EnvironmentWinsOverTheConfig) {
  setenv("SPDLOG_LEVEL", "trace", 1);
  dmx::log::setup("");
  dmx::log::apply_config_level("error");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::trace);
  unsetenv("SPDLOG_LEVEL");
}

TEST(LogLevel, UnknownLevelIsAConfigError) { EXPECT_THROW(dmx::log::setup("loud"), dmx::Error); }

}  // namespace
