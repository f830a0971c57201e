// StateDict: a missing, mis-shaped or unused weight is an error naming the weight and the file.
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/state_dict.hpp"
#include "../sd_fixtures.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

namespace {

using dmx::sd::StateDict;

std::string message_of(const std::function<void()>& action, dmx::ErrorCategory expected) {
  try {
    action();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), expected) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no dmx::Error thrown";
  return {};
}

class StateDictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "state_dict_test.safetensors";
    dmx::io::save_safetensors(path_, {{"layer.weight", at::randn({4, 3})},
                                      {"layer.bias", at::randn({4})},
                                      {"position_ids", at::arange(5, at::kLong)}});
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(StateDictTest, TakesWeightsOfTheExpectedShape) {
  auto weights = StateDict::load(path_);
  EXPECT_EQ(weights.source(), path_);
  EXPECT_TRUE(weights.has("layer.weight"));
  EXPECT_FALSE(weights.has("layer.scale"));
  EXPECT_EQ(weights.take("layer.weight", {4, 3}).sizes(), at::IntArrayRef({4, 3}));
  EXPECT_EQ(weights.take("layer.bias").sizes(), at::IntArrayRef({4}));
  weights.take("position_ids");
  EXPECT_NO_THROW(weights.expect_all_taken());
}

TEST_F(StateDictTest, MissingWeightNamesItAndTheFile) {
  auto weights = StateDict::load(path_);
  const auto message = message_of([&] { weights.take("layer.scale", {4}); }, dmx::ErrorCategory::NotFound);
  EXPECT_NE(message.find("'layer.scale'"), std::string::npos) << message;
  EXPECT_NE(message.find(path_), std::string::npos) << message;
}

TEST_F(StateDictTest, MisShapedWeightNamesBothShapes) {
  auto weights = StateDict::load(path_);
  const auto message = message_of([&] { weights.take("layer.weight", {3, 4}); }, dmx::ErrorCategory::Shape);
  EXPECT_NE(message.find("'layer.weight'"), std::string::npos) << message;
  EXPECT_NE(message.find("[4, 3]"), std::string::npos) << message;
  EXPECT_NE(message.find("[3, 4]"), std::string::npos) << message;
  EXPECT_NE(message.find(path_), std::string::npos) << message;
}

TEST_F(StateDictTest, UnexpectedWeightsAreListed) {
  auto weights = StateDict::load(path_);
  weights.take("layer.weight", {4, 3});
  const auto message = message_of([&] { weights.expect_all_taken(); }, dmx::ErrorCategory::Format);
  EXPECT_NE(message.find("'layer.bias'"), std::string::npos) << message;
  EXPECT_NE(message.find("'position_ids'"), std::string::npos) << message;
  EXPECT_EQ(message.find("'layer.weight'"), std::string::npos) << message;
  EXPECT_NE(message.find(path_), std::string::npos) << message;
}

TEST_F(StateDictTest, ToConvertsOnlyFloatingPointWeights) {
  auto weights = StateDict::load(path_);
  weights.to(at::kDouble, at::kCPU);
  EXPECT_EQ(weights.take("layer.weight").scalar_type(), at::kDouble);
  EXPECT_EQ(weights.take("position_ids").scalar_type(), at::kLong);
}

}  // namespace

namespace {

// Every safetensors file of the fixture set (written by a different implementation of the format) opens, and each
// tensor reads back with the size its header declares.
TEST(SafetensorsFixtureTest, EveryFixtureFileOpens) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dmx::test::sd_fixture_dir())) {
    if (entry.path().extension() != ".safetensors") continue;
    SCOPED_TRACE(entry.path().string());
    const auto file = dmx::io::SafetensorsFile::open(entry.path().string());
    EXPECT_FALSE(file.names().empty());
    for (const auto& name : file.names()) EXPECT_EQ(file.tensor(name).sizes().vec(), file.shape(name));
    ++files;
  }
  EXPECT_GE(files, 10u);
}

}  // namespace
