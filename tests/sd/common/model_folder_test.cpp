// Reading a diffusers folder: the fixture's model_index.json and components, and clear errors for what is missing.
#include "diffmix/error.hpp"
#include "diffmix/sd/config_file.hpp"
#include "diffmix/sd/model_folder.hpp"
#include "../sd_fixtures.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace {

using namespace dmx::sd;

TEST(ModelFolderTest, ListsTheFixtureComponents) {
  const auto model = ModelFolder::open(dmx::test::sd_fixture_dir() + "/model");
  EXPECT_EQ(model.class_name("unet"), "UNet2DConditionModel");
  EXPECT_EQ(model.class_name("text_encoder"), "CLIPTextModel");
  EXPECT_FALSE(model.has_component("safety_checker"));  // [null, null]
  const auto text_encoder = model.component("text_encoder");
  EXPECT_NE(text_encoder.weights_path().find("text_encoder/model.safetensors"), std::string::npos);
  EXPECT_NE(model.component("unet").weights_path().find("diffusion_pytorch_model.safetensors"), std::string::npos);
  EXPECT_NE(model.component("scheduler").config_path().find("scheduler_config.json"), std::string::npos);
}

TEST(ModelFolderTest, MissingPiecesAreNamed) {
  const auto root = dmx::test::sd_fixture_dir();
  try {
    ComponentFolder::open(root + "/model", "controlnet");
    FAIL();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::NotFound);
    EXPECT_NE(std::string(e.what()).find("controlnet"), std::string::npos);
  }
  EXPECT_THROW(ModelFolder::open(root + "/model").class_name("safety_checker"), dmx::Error);
  EXPECT_THROW(ModelFolder::open(root + "/cases"), dmx::Error);  // no model_index.json
  EXPECT_THROW(ComponentFolder::open(root + "/model", "tokenizer").weights_path(), dmx::Error);
}

TEST(ConfigFileTest, WrongTypedKeysNameTheFileAndKey) {
  const auto config = ConfigFile::parse(R"({"layers": "two", "sizes": [1, "x"], "vision_config": {"hidden_size": 1.5}})",
                                        "cfg.json");
  const auto expect_message = [](const std::function<void()>& action, const std::string& fragment) {
    try {
      action();
      ADD_FAILURE() << "no error for " << fragment;
    } catch (const dmx::Error& e) {
      EXPECT_EQ(e.category(), dmx::ErrorCategory::Config);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
    }
  };
  expect_message([&] { config.integer("layers"); }, "'layers' must be an integer, got \"two\"");
  expect_message([&] { config.integers("sizes"); }, "'sizes' must be an array of integers");
  expect_message([&] { config.integer("absent"); }, "'absent' must be an integer, but it is missing");
  expect_message([&] { config.section("vision_config").integer("hidden_size"); }, "'vision_config.hidden_size'");
  EXPECT_EQ(config.integer("absent", 7), 7);
}

TEST(ConfigFileTest, AcceptsPythonInfinityAndNaN) {
  const auto config = ConfigFile::parse(R"({"low": -Infinity, "high": Infinity, "nan": NaN, "text": "NaN -Infinity"})",
                                        "sched.json");
  EXPECT_TRUE(std::isinf(config.number("low")) && config.number("low") < 0);
  EXPECT_TRUE(std::isinf(config.number("high")) && config.number("high") > 0);
  EXPECT_TRUE(std::isnan(config.number("nan")));
  EXPECT_EQ(config.string("text"), "NaN -Infinity");
  EXPECT_THROW(ConfigFile::parse("{\"a\": ", "broken.json"), dmx::Error);
}

}  // namespace
