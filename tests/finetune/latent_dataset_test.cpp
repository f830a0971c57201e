// The encoded training set: each image and its mirror image are encoded once; crop and flip are drawn per step.
#include "diffmix/sd_finetune/latent_dataset.hpp"

#include "diffmix/data/sample_rng.hpp"
#include "diffmix/data/transforms.hpp"
#include "diffmix/error.hpp"
#include "finetune/finetune_fixtures.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>

namespace dmx::finetune {
namespace {

// 64×32 images at resolution 16: resized to 32×16 pixels, 16×8 latent cells (the tiny VAE halves), 8×8 crops.
constexpr int64_t kResolution = 16;
constexpr int64_t kCropCells = 8;
constexpr int64_t kHorizontalPositions = 9;

class LatentDatasetTest : public ::testing::Test {
 protected:
  LatentDatasetTest()
      : images_({"a", "b"}, 2, 3, /*width=*/64, /*height=*/32),
        vae_(sd::AutoencoderKL::load(test::tiny_model_dir(), at::kFloat, at::kCPU)),
        latents_(LatentDataset::encode(images_, vae_, kResolution)) {}

  // What the pixel-space pipeline would encode: Resize(16) of image `index`, mirrored if asked, in [-1, 1].
  at::Tensor encode_directly(int64_t index, bool mirrored) const {
    data::Transforms resize;
    resize.resize(kResolution);
    data::SampleRng rng(0, data::RandomStream::Transform, 0, 0);
    auto image = resize.apply(images_.load_image(index), rng) * 2.0 - 1.0;
    if (mirrored) image = image.flip({2});
    at::NoGradGuard no_grad;
    return vae_.encode(image.unsqueeze(0)).mean()[0] * vae_.scaling_factor();
  }

  LatentDraw draw(int64_t index, int64_t flip, double u_y, double u_x, const at::Tensor& noise) const {
    return {at::tensor({index}, at::kLong), at::tensor({flip}, at::kLong), at::tensor({u_y, u_x}).reshape({1, 2}),
            noise};
  }

  at::Tensor zero_noise() const { return at::zeros({1, 4, kCropCells, kCropCells}); }

  test::RandomImages images_;
  sd::AutoencoderKL vae_;
  LatentDataset latents_;
};

// ‖a − b‖ / ‖b‖ over the whole tensor.
double relative_norm_error(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).norm().item<double>() / b.norm().item<double>();
}

TEST_F(LatentDatasetTest, EncodesTheWholeResizedImageAndItsMirror) {
  EXPECT_EQ(latents_.size(), 4);
  EXPECT_EQ(latents_.labels(), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(latents_.latent_shape(), (std::vector<int64_t>{4, kCropCells, kCropCells}));
  EXPECT_EQ(latents_.image_latent_shape(1), (std::vector<int64_t>{2, 4, kCropCells, 16}));

  // Left crop of the image, right crop of the mirror image: both are crops of what the pixel pipeline encodes.
  const auto left = latents_.sample(draw(1, 0, 0.0, 0.0, zero_noise()), at::kCPU)[0];
  EXPECT_LT(relative_norm_error(left, encode_directly(1, false).narrow(2, 0, kCropCells)), 1e-5);
  const auto mirrored_right = latents_.sample(draw(1, 1, 0.0, 0.9999, zero_noise()), at::kCPU)[0];
  EXPECT_LT(relative_norm_error(mirrored_right, encode_directly(1, true).narrow(2, 16 - kCropCells, kCropCells)), 1e-5);
}

TEST_F(LatentDatasetTest, CropPositionsAreUniformOverTheLatentGrid) {
  EXPECT_EQ(latents_.crop_origin(0, 0.0, 0.0), (std::pair<int64_t, int64_t>{0, 0}));
  EXPECT_EQ(latents_.crop_origin(0, 0.9999, 0.9999), (std::pair<int64_t, int64_t>{0, kHorizontalPositions - 1}));
  auto generator = at::detail::createCPUGenerator(3);
  const auto draws = at::rand({9000, 2}, generator, at::kDouble);
  std::vector<int64_t> counts(kHorizontalPositions, 0);
  for (int64_t i = 0; i < draws.size(0); ++i) {
    const auto [top, left] = latents_.crop_origin(2, draws[i][0].item<double>(), draws[i][1].item<double>());
    EXPECT_EQ(top, 0);
    ++counts.at(static_cast<size_t>(left));
  }
  // Each of the 9 positions: binomial(9000, 1/9), mean 1000, sigma 29.8; 5 sigma either way.
  for (int64_t position = 0; position < kHorizontalPositions; ++position) {
    EXPECT_NEAR(counts[static_cast<size_t>(position)], 1000, 149) << "position " << position;
  }
}

TEST_F(LatentDatasetTest, NoiseDrawsFromThePosterior) {
  auto generator = at::detail::createCPUGenerator(5);
  const auto noise = at::randn({1, 4, kCropCells, kCropCells}, generator);
  const auto mean = latents_.sample(draw(0, 0, 0.0, 0.5, zero_noise()), at::kCPU);
  const auto once = latents_.sample(draw(0, 0, 0.0, 0.5, noise), at::kCPU);
  const auto twice = latents_.sample(draw(0, 0, 0.0, 0.5, noise * 2), at::kCPU);
  EXPECT_GT((once - mean).abs().max().item<double>(), 0.0);
  EXPECT_LT(relative_norm_error(twice - once, once - mean), 1e-4);
}

TEST_F(LatentDatasetTest, BadDrawsAreErrors) {
  EXPECT_THROW(latents_.sample(draw(4, 0, 0.0, 0.0, zero_noise()), at::kCPU), dmx::Error);
  auto mismatched = draw(0, 0, 0.0, 0.0, zero_noise());
  mismatched.flips = at::tensor({0, 1}, at::kLong);
  EXPECT_THROW(latents_.sample(mismatched, at::kCPU), dmx::Error);
}

TEST(LatentDatasetEncode, ResolutionMustBeAMultipleOfTheDownsamplingFactor) {
  const test::RandomImages images({"a"}, 1);
  const auto vae = sd::AutoencoderKL::load(test::tiny_model_dir(), at::kFloat, at::kCPU);
  try {
    LatentDataset::encode(images, vae, 15);
    FAIL() << "resolution 15 was accepted";
  } catch (const dmx::Error& error) {
    EXPECT_NE(std::string(error.what()).find("15"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace dmx::finetune
