// AutoencoderKL against diffusers 0.27.2 on the `vae` fixture case: posterior moments, sampling with given noise,
// decoding (square and non-square), and the config-derived constants.
#include "../sd_fixtures.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/autoencoder_kl.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>

namespace {

using dmx::test::kParityTolerance;
using dmx::test::relative_error;
using dmx::test::sd_fixture_dir;

class VaeParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    vae_.emplace(dmx::sd::AutoencoderKL::load(sd_fixture_dir() + "/model", at::kFloat, at::kCPU));
    reference_.emplace(dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/vae.safetensors"));
  }
  static void TearDownTestSuite() {
    vae_.reset();
    reference_.reset();
  }
  static at::Tensor ref(const std::string& name) { return reference_->tensor(name); }
  // The case's metadata values are JSON texts.
  static nlohmann::json metadata(const std::string& key) {
    return nlohmann::json::parse(reference_->metadata().at(key));
  }

  static std::optional<dmx::sd::AutoencoderKL> vae_;
  static std::optional<dmx::io::SafetensorsFile> reference_;
};

std::optional<dmx::sd::AutoencoderKL> VaeParity::vae_;
std::optional<dmx::io::SafetensorsFile> VaeParity::reference_;

TEST_F(VaeParity, PosteriorMomentsMatch) {
  const auto posterior = vae_->encode(ref("image"));
  EXPECT_LT(relative_error(posterior.mean(), ref("posterior.mean")), kParityTolerance);
  EXPECT_LT(relative_error(posterior.logvar(), ref("posterior.logvar")), kParityTolerance);
  EXPECT_LT(relative_error(posterior.std(), ref("posterior.std")), kParityTolerance);
}

TEST_F(VaeParity, PosteriorSampleUsesTheGivenNoise) {
  const auto posterior = vae_->encode(ref("image"));
  EXPECT_LT(relative_error(posterior.sample(ref("posterior.eps")), ref("posterior.sample")), kParityTolerance);
  EXPECT_THROW(posterior.sample(ref("posterior.eps").narrow(1, 0, 1)), dmx::Error);
}

TEST_F(VaeParity, DecodeMatches) {
  EXPECT_LT(relative_error(vae_->decode(ref("decode.z")), ref("decode.sample")), kParityTolerance);
}

TEST_F(VaeParity, DecodeNonSquareMatches) {
  EXPECT_LT(relative_error(vae_->decode(ref("decode_nonsquare.z")), ref("decode_nonsquare.sample")),
            kParityTolerance);
}

TEST_F(VaeParity, ConstantsComeFromTheConfig) {
  EXPECT_DOUBLE_EQ(vae_->scaling_factor(), metadata("scaling_factor").get<double>());
  EXPECT_EQ(vae_->downsampling_factor(), metadata("vae_scale_factor").get<int64_t>());
  EXPECT_EQ(ref("image").size(2) / vae_->downsampling_factor(), ref("posterior.mean").size(2));
}

TEST(DiagonalGaussian, ClampsLogVariance) {
  const auto moments = at::cat({at::zeros({1, 2, 1, 1}), at::tensor({-100.0f, 100.0f}).view({1, 2, 1, 1})}, 1);
  const dmx::sd::DiagonalGaussian posterior(moments);
  EXPECT_FLOAT_EQ(posterior.logvar().flatten()[0].item<float>(), -30.0f);
  EXPECT_FLOAT_EQ(posterior.logvar().flatten()[1].item<float>(), 20.0f);
  EXPECT_FLOAT_EQ(posterior.std().flatten()[1].item<float>(), std::exp(10.0f));
  EXPECT_THROW(dmx::sd::DiagonalGaussian(at::zeros({1, 3, 2, 2})), dmx::Error);
}

}  // namespace
