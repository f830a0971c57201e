// The timestep conditioning against the forward hooks recorded in the `unet` case (scalar-timestep call).
#include "../sd_fixtures.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/embeddings.hpp"
#include "diffmix/sd/state_dict.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"

#include <gtest/gtest.h>

namespace {

using dmx::test::kParityTolerance;
using dmx::test::relative_error;
using dmx::test::sd_fixture_dir;

TEST(TimestepEmbedding, SinusoidalFeaturesMatchDiffusers) {
  const auto unet_dir = sd_fixture_dir() + "/model/unet";
  const auto config = dmx::sd::UNet2DConditionConfig::load(unet_dir + "/config.json");
  const auto reference = dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/unet.safetensors");
  const auto batch = reference.shape("sample")[0];
  const auto timesteps = reference.tensor("timestep_scalar").reshape({}).expand({batch});

  const auto features = dmx::sd::timestep_embedding(timesteps, config.block_out_channels[0], config.flip_sin_to_cos,
                                                    config.freq_shift);
  EXPECT_LT(relative_error(features, reference.tensor("inter.time_proj")), kParityTolerance);
}

TEST(TimestepEmbedding, MlpMatchesDiffusers) {
  const auto unet_dir = sd_fixture_dir() + "/model/unet";
  const auto config = dmx::sd::UNet2DConditionConfig::load(unet_dir + "/config.json");
  const auto reference = dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/unet.safetensors");
  auto weights = dmx::sd::StateDict::load(unet_dir + "/diffusion_pytorch_model.safetensors");

  const auto mlp = dmx::sd::TimestepEmbedding::load(weights, "time_embedding", config.block_out_channels[0],
                                                    config.time_embed_dim());
  const auto embedding = mlp.forward(reference.tensor("inter.time_proj"));
  EXPECT_LT(relative_error(embedding, reference.tensor("inter.time_embedding")), kParityTolerance);
}

TEST(TimestepEmbedding, OddDimensionGetsAZeroColumn) {
  const auto features = dmx::sd::timestep_embedding(at::tensor({10.0f, 500.0f}), 7, true, 1.0);
  ASSERT_EQ(features.sizes(), at::IntArrayRef({2, 7}));
  EXPECT_EQ(features.select(1, 6).abs().max().item<float>(), 0.0f);
  // flip_sin_to_cos puts the cosines first: cos(0 * f) = 1 for t = 0.
  const auto at_zero = dmx::sd::timestep_embedding(at::zeros({1}, at::kLong), 8, true, 0.0);
  EXPECT_TRUE(at::allclose(at_zero.narrow(1, 0, 4), at::ones({1, 4})));
  EXPECT_TRUE(at::allclose(at_zero.narrow(1, 4, 4), at::zeros({1, 4})));
}

}  // namespace
