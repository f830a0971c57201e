// Reading scheduler_config.json: Python's Infinity literal, defaults, and errors that name the file and the key.
#include "../sd_fixtures.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sd/scheduler_config.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <string>

namespace {

using dmx::sd::SchedulerConfig;

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("diffmix-scheduler-config-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json"))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  const std::string& write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_;
  }
  // Expects load() to throw an error of `category` whose message names the file and `mention`.
  void expect_error(const std::string& text, dmx::ErrorCategory category, const std::string& mention) {
    try {
      SchedulerConfig::load(write(text));
      ADD_FAILURE() << "no error for " << text;
    } catch (const dmx::Error& e) {
      EXPECT_EQ(e.category(), category) << e.what();
      EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
    }
  }
  std::string path_;
};

TEST_F(ConfigFile, TheFixtureConfigReadsAsStableDiffusion15) {
  const auto config = SchedulerConfig::load_from_folder(dmx::test::sd_fixture_dir() + "/model");
  EXPECT_EQ(config.beta_schedule, "scaled_linear");
  EXPECT_EQ(config.algorithm_type, "dpmsolver++");
  EXPECT_EQ(config.solver_order, 2);
  EXPECT_TRUE(std::isinf(config.lambda_min_clipped) && config.lambda_min_clipped < 0);
}

TEST_F(ConfigFile, PythonLiteralsOutsideStringsAreNumbers) {
  const auto config = SchedulerConfig::load(
      write(R"({"_class_name": "Infinity NaN", "lambda_min_clipped": -Infinity, "beta_end": 0.012})"));
  EXPECT_TRUE(std::isinf(config.lambda_min_clipped) && config.lambda_min_clipped < 0);
  EXPECT_DOUBLE_EQ(config.beta_end, 0.012);
}

TEST_F(ConfigFile, MissingKeysTakeDiffusersDefaults) {
  const auto config = SchedulerConfig::load(write("{}"));
  EXPECT_EQ(config.num_train_timesteps, 1000);
  EXPECT_EQ(config.beta_schedule, "linear");
  EXPECT_EQ(config.timestep_spacing, "linspace");
}

TEST_F(ConfigFile, WrongTypesNameTheKey) {
  expect_error(R"({"solver_order": "two"})", dmx::ErrorCategory::Config, "solver_order");
  expect_error(R"({"beta_start": "small"})", dmx::ErrorCategory::Config, "beta_start");
  expect_error(R"({"lower_order_final": 1})", dmx::ErrorCategory::Config, "lower_order_final");
  expect_error(R"({"beta_start": 0.5, "beta_end": 0.1})", dmx::ErrorCategory::Config, "beta_start");
}

TEST_F(ConfigFile, UnimplementedFeaturesAreUnsupportedNotIgnored) {
  expect_error(R"({"algorithm_type": "sde-dpmsolver++"})", dmx::ErrorCategory::Unsupported, "algorithm_type");
  expect_error(R"({"solver_order": 3})", dmx::ErrorCategory::Unsupported, "solver_order");
  expect_error(R"({"use_karras_sigmas": true})", dmx::ErrorCategory::Unsupported, "use_karras_sigmas");
  expect_error(R"({"beta_schedule": "squaredcos_cap_v2"})", dmx::ErrorCategory::Unsupported, "beta_schedule");
}

TEST_F(ConfigFile, MalformedJsonIsAFormatError) {
  expect_error(R"({"beta_start": )", dmx::ErrorCategory::Format, "JSON");
}

TEST(SchedulerConfigFolder, AMissingConfigNamesTheFolder) {
  try {
    SchedulerConfig::load_from_folder("/nonexistent/model");
    FAIL() << "no error";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::NotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model"), std::string::npos);
  }
}

}  // namespace
