// A UNet folder whose weights do not fit its config.json is refused with an error that names the tensor.
#include "../sd_fixtures.hpp"
#include "component_copy.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace {

using dmx::test::ComponentCopy;
using dmx::test::NamedTensors;
using dmx::test::sd_fixture_dir;

// The mid block's cross-attention exists in every SD 1.x/2.x UNet, whatever the config's sizes.
const char* const kCrossAttentionKey = "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight";

std::string unet_dir() { return sd_fixture_dir() + "/model/unet"; }

// Runs `load` and returns the dmx::Error's message and category; fails the test if nothing is thrown.
template <typename Load>
std::pair<std::string, dmx::ErrorCategory> load_error(Load&& load) {
  try {
    load();
  } catch (const dmx::Error& e) {
    return {e.what(), e.category()};
  }
  ADD_FAILURE() << "loading succeeded";
  return {"", dmx::ErrorCategory::Internal};
}

TEST(UNetWeights, MissingWeightIsNamed) {
  const ComponentCopy copy(unet_dir(), dmx::test::kDiffusersWeightsFile, [](NamedTensors& t) { dmx::test::remove_tensor(t, kCrossAttentionKey); });
  const auto [message, category] = load_error([&] { dmx::sd::UNet2DConditionModel::load(copy.dir()); });
  EXPECT_EQ(category, dmx::ErrorCategory::NotFound);
  EXPECT_NE(message.find(kCrossAttentionKey), std::string::npos) << message;
  EXPECT_NE(message.find(dmx::test::kDiffusersWeightsFile), std::string::npos) << message;
}

TEST(UNetWeights, MisshapedWeightIsNamed) {
  const ComponentCopy copy(unet_dir(), dmx::test::kDiffusersWeightsFile, [](NamedTensors& t) {
    auto& weight = dmx::test::tensor_named(t, kCrossAttentionKey);
    weight = weight.narrow(1, 0, weight.size(1) - 1).contiguous();
  });
  const auto [message, category] = load_error([&] { dmx::sd::UNet2DConditionModel::load(copy.dir()); });
  EXPECT_EQ(category, dmx::ErrorCategory::Shape);
  EXPECT_NE(message.find(kCrossAttentionKey), std::string::npos) << message;
}

TEST(UNetWeights, UnexpectedWeightIsNamed) {
  const ComponentCopy copy(unet_dir(), dmx::test::kDiffusersWeightsFile, [](NamedTensors& t) {
    t.emplace_back("mid_block.attentions.0.transformer_blocks.0.attn3.to_k.weight", at::zeros({2, 2}));
  });
  const auto [message, category] = load_error([&] { dmx::sd::UNet2DConditionModel::load(copy.dir()); });
  EXPECT_NE(message.find("attn3.to_k.weight"), std::string::npos) << message;
}

TEST(UNetWeights, WrongTypedConfigKeyIsNamed) {
  const ComponentCopy copy(unet_dir(), dmx::test::kDiffusersWeightsFile, [](NamedTensors&) {});
  {
    std::ifstream in(copy.dir() + "/config.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = text.find("\"norm_num_groups\"");
    ASSERT_NE(at, std::string::npos);
    text.insert(text.find(':', at) + 1, " \"many\", \"_was\":");
    std::ofstream(copy.dir() + "/config.json") << text;
  }
  const auto [message, category] = load_error([&] { dmx::sd::UNet2DConditionModel::load(copy.dir()); });
  EXPECT_EQ(category, dmx::ErrorCategory::Config);
  EXPECT_NE(message.find("norm_num_groups"), std::string::npos) << message;
  EXPECT_NE(message.find("config.json"), std::string::npos) << message;
}

TEST(UNetWeights, MissingFolderIsAnError) {
  EXPECT_THROW(dmx::sd::UNet2DConditionModel::load(sd_fixture_dir() + "/no-such-model"), dmx::Error);
}

}  // namespace
