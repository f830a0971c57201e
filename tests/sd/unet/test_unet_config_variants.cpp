// Config forms that the reference UNet does not use itself, checked against its outputs through an equivalent
// rewrite of the same weights: a 1x1 Conv2d projection equals a Linear one, and a per-block list of head counts
// equals the single number it repeats.
#include "../sd_fixtures.hpp"
#include "component_copy.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"

#include <gtest/gtest.h>

namespace {

using dmx::test::ComponentCopy;
using dmx::test::kParityTolerance;
using dmx::test::NamedTensors;
using dmx::test::relative_error;
using dmx::test::sd_fixture_dir;


bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

at::Tensor run_reference_case(const dmx::sd::UNet2DConditionModel& unet, const dmx::io::SafetensorsFile& reference) {
  return unet.forward(reference.tensor("sample"), reference.tensor("timestep_batch"),
                      reference.tensor("encoder_hidden_states"));
}

TEST(UNetConfigVariants, LinearProjectionMatchesConvProjection) {
  const auto reference = dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/unet.safetensors");
  const bool uses_linear =
      dmx::sd::UNet2DConditionConfig::load(sd_fixture_dir() + "/model/unet/config.json").use_linear_projection;
  const ComponentCopy copy(sd_fixture_dir() + "/model/unet", dmx::test::kDiffusersWeightsFile, [&](NamedTensors& tensors) {
    for (auto& [name, tensor] : tensors) {
      if (!ends_with(name, "proj_in.weight") && !ends_with(name, "proj_out.weight")) continue;
      // [out, in, 1, 1] <-> [out, in]
      tensor = uses_linear ? tensor.unsqueeze(-1).unsqueeze(-1).contiguous() : tensor.flatten(1).contiguous();
    }
  });
  copy.edit_config([&](nlohmann::json& config) { config["use_linear_projection"] = !uses_linear; });

  const auto unet = dmx::sd::UNet2DConditionModel::load(copy.dir());
  EXPECT_EQ(unet.config().use_linear_projection, !uses_linear);
  EXPECT_LT(relative_error(run_reference_case(unet, reference), reference.tensor("out_batch_t")), kParityTolerance);
}

TEST(UNetConfigVariants, PerBlockHeadCountsAndNumAttentionHeads) {
  const auto reference = dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/unet.safetensors");
  const auto config = dmx::sd::UNet2DConditionConfig::load(sd_fixture_dir() + "/model/unet/config.json");
  const ComponentCopy copy(sd_fixture_dir() + "/model/unet", dmx::test::kDiffusersWeightsFile, [](NamedTensors&) {});

  copy.edit_config([&](nlohmann::json& json) { json["attention_head_dim"] = config.num_attention_heads; });
  auto unet = dmx::sd::UNet2DConditionModel::load(copy.dir());
  EXPECT_LT(relative_error(run_reference_case(unet, reference), reference.tensor("out_batch_t")), kParityTolerance);

  // The newer key wins over the legacy one.
  copy.edit_config([&](nlohmann::json& json) {
    json["num_attention_heads"] = config.num_attention_heads;
    json["attention_head_dim"] = 1;
  });
  unet = dmx::sd::UNet2DConditionModel::load(copy.dir());
  EXPECT_EQ(unet.config().num_attention_heads, config.num_attention_heads);
  EXPECT_LT(relative_error(run_reference_case(unet, reference), reference.tensor("out_batch_t")), kParityTolerance);
}

TEST(UNetConfigVariants, HeadCountMustDivideTheChannels) {
  const auto config = dmx::sd::UNet2DConditionConfig::load(sd_fixture_dir() + "/model/unet/config.json");
  const ComponentCopy copy(sd_fixture_dir() + "/model/unet", dmx::test::kDiffusersWeightsFile, [](NamedTensors&) {});
  copy.edit_config([&](nlohmann::json& json) { json["attention_head_dim"] = config.block_out_channels[0] + 1; });
  try {
    dmx::sd::UNet2DConditionModel::load(copy.dir());
    ADD_FAILURE() << "loaded";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Config);
    EXPECT_NE(std::string(e.what()).find("attention_head_dim"), std::string::npos) << e.what();
  }
}

TEST(UNetConfigVariants, UnsupportedFeatureIsNamed) {
  const ComponentCopy copy(sd_fixture_dir() + "/model/unet", dmx::test::kDiffusersWeightsFile, [](NamedTensors&) {});
  copy.edit_config([](nlohmann::json& json) { json["class_embed_type"] = "timestep"; });
  try {
    dmx::sd::UNet2DConditionModel::load(copy.dir());
    ADD_FAILURE() << "loaded";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Unsupported);
    EXPECT_NE(std::string(e.what()).find("class_embed_type"), std::string::npos) << e.what();
  }
}

}  // namespace
