// UNet2DConditionModel against diffusers 0.27.2 on the `unet` fixture case: every timestep form the pipelines use
// (0-dim, [1], per-sample int64, fractional float) and a non-square latent.
#include "../sd_fixtures.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace {

using dmx::test::kParityTolerance;
using dmx::test::relative_error;
using dmx::test::sd_fixture_dir;

class UNetParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    unet_.emplace(dmx::sd::UNet2DConditionModel::load(sd_fixture_dir() + "/model", at::kFloat, at::kCPU));
    reference_.emplace(dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/unet.safetensors"));
  }
  static void TearDownTestSuite() {
    unet_.reset();
    reference_.reset();
  }
  static at::Tensor ref(const std::string& name) { return reference_->tensor(name); }

  static std::optional<dmx::sd::UNet2DConditionModel> unet_;
  static std::optional<dmx::io::SafetensorsFile> reference_;
};

std::optional<dmx::sd::UNet2DConditionModel> UNetParity::unet_;
std::optional<dmx::io::SafetensorsFile> UNetParity::reference_;

TEST_F(UNetParity, ZeroDimIntegerTimestep) {
  const auto out = unet_->forward(ref("sample"), ref("timestep_scalar").reshape({}), ref("encoder_hidden_states"));
  EXPECT_LT(relative_error(out, ref("out_scalar_t")), kParityTolerance);
}

TEST_F(UNetParity, OneElementTimestepBroadcastsToTheBatch) {
  const auto out = unet_->forward(ref("sample"), ref("timestep_scalar"), ref("encoder_hidden_states"));
  EXPECT_LT(relative_error(out, ref("out_scalar_t")), kParityTolerance);
}

TEST_F(UNetParity, PerSampleIntegerTimesteps) {
  const auto out = unet_->forward(ref("sample"), ref("timestep_batch"), ref("encoder_hidden_states"));
  EXPECT_LT(relative_error(out, ref("out_batch_t")), kParityTolerance);
}

TEST_F(UNetParity, FractionalFloatTimesteps) {
  const auto out = unet_->forward(ref("sample"), ref("timestep_float"), ref("encoder_hidden_states"));
  EXPECT_LT(relative_error(out, ref("out_float_t")), kParityTolerance);
}

TEST_F(UNetParity, NonSquareLatents) {
  const auto out = unet_->forward(ref("sample_nonsquare"), ref("timestep_batch"), ref("encoder_hidden_states"));
  EXPECT_LT(relative_error(out, ref("out_nonsquare")), kParityTolerance);
}

TEST_F(UNetParity, OddLatentSizeKeepsItsShape) {
  // diffusers upsamples to the skip connection's size when a side is not a multiple of 2^levels.
  const auto sample = ref("sample").narrow(2, 0, ref("sample").size(2) - 1).narrow(3, 0, ref("sample").size(3) - 3);
  const auto out = unet_->forward(sample, ref("timestep_batch"), ref("encoder_hidden_states"));
  EXPECT_EQ(out.sizes(), sample.sizes());
  EXPECT_TRUE(at::isfinite(out).all().item<bool>());
}

TEST_F(UNetParity, ArchitectureComesFromTheConfig) {
  const auto& config = unet_->config();
  const auto reference_shape = reference_->shape("sample");
  EXPECT_EQ(config.in_channels, reference_shape[1]);
  EXPECT_EQ(config.cross_attention_dim.front(), reference_->shape("encoder_hidden_states")[2]);
  EXPECT_EQ(config.time_embed_dim(), reference_->shape("inter.time_embedding")[1]);
  EXPECT_EQ(unet_->dtype(), at::kFloat);
}

TEST_F(UNetParity, RejectsMisshapedInputs) {
  const auto sample = ref("sample");
  const auto context = ref("encoder_hidden_states");
  EXPECT_THROW(unet_->forward(sample.narrow(1, 0, 1), ref("timestep_batch"), context), dmx::Error);
  EXPECT_THROW(unet_->forward(sample, at::zeros({3}, at::kLong), context), dmx::Error);
  EXPECT_THROW(unet_->forward(sample, ref("timestep_batch"), context.narrow(2, 0, 1)), dmx::Error);
}

TEST_F(UNetParity, LoadsFromTheComponentFolderToo) {
  const auto unet = dmx::sd::UNet2DConditionModel::load(sd_fixture_dir() + "/model/unet");
  const auto out = unet.forward(ref("sample"), ref("timestep_batch"), ref("encoder_hidden_states"));
  EXPECT_LT(relative_error(out, ref("out_batch_t")), kParityTolerance);
}

}  // namespace

namespace {

// The weights' dtype decides the compute dtype (fp16 needs CUDA in LibTorch's CPU kernels; bfloat16 runs here).
// The tolerance is bfloat16's: 8 significant bits through a few dozen layers.
TEST(UNetDtype, BFloat16WeightsComputeInBFloat16) {
  const auto reference = dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/unet.safetensors");
  const auto unet = dmx::sd::UNet2DConditionModel::load(sd_fixture_dir() + "/model", at::kBFloat16, at::kCPU);
  const auto out = unet.forward(reference.tensor("sample"), reference.tensor("timestep_batch"),
                                reference.tensor("encoder_hidden_states"));
  EXPECT_EQ(out.scalar_type(), at::kBFloat16);
  EXPECT_LT(relative_error(out, reference.tensor("out_batch_t")), 0.1);
}

}  // namespace
