// Per-sample transforms: shapes, values, and randomness that depends only on the sample's generator.
#include <gtest/gtest.h>

#include "diffmix/data/transforms.hpp"
#include "diffmix/error.hpp"

namespace {

using dmx::data::RandomStream;
using dmx::data::SampleRng;
using dmx::data::Transforms;

at::Tensor ramp(int64_t h, int64_t w) {
  return at::arange(h * w, at::kLong).remainder(256).to(at::kByte).view({h, w, 1}).expand({h, w, 3}).contiguous();
}

TEST(Transforms, ResizeKeepsAspectOfShortSideLikeTorchvision) {
  SampleRng rng(0, RandomStream::Transform, 0, 0);
  Transforms t;
  t.resize(32);
  EXPECT_EQ(t.apply(ramp(100, 150), rng).sizes(), (std::vector<int64_t>{3, 32, 48}));
  EXPECT_EQ(t.apply(ramp(150, 100), rng).sizes(), (std::vector<int64_t>{3, 48, 32}));
  Transforms square;
  square.resize(20, 20);
  EXPECT_EQ(square.apply(ramp(100, 150), rng).sizes(), (std::vector<int64_t>{3, 20, 20}));
}

TEST(Transforms, AntialiasedShrinkOfAConstantImageStaysConstant) {
  const at::Tensor gray = at::full({3, 64, 64}, 0.25f);
  const at::Tensor small = dmx::data::resize_image(gray, 7, 9);
  EXPECT_NEAR(small.min().item<float>(), 0.25f, 1e-6);
  EXPECT_NEAR(small.max().item<float>(), 0.25f, 1e-6);
  // A 3× shrink of a checkerboard averages it out; plain bilinear would sample single pixels (all 0 or 1).
  const at::Tensor checker = (at::arange(63).view({63, 1}) + at::arange(63).view({1, 63})).remainder(2).to(at::kFloat);
  const at::Tensor third = dmx::data::resize_image(checker.expand({3, 63, 63}), 21, 21);
  EXPECT_LT((third - 0.5f).abs().max().item<float>(), 0.3f);
}

TEST(Transforms, TestRecipeIsDeterministicAndNormalized) {
  const Transforms test = Transforms::test(16);
  SampleRng a(1, RandomStream::Transform, 0, 0), b(2, RandomStream::Transform, 9, 9);
  const at::Tensor x = test.apply(ramp(20, 30), a);
  EXPECT_EQ(x.sizes(), (std::vector<int64_t>{3, 16, 16}));
  EXPECT_TRUE(x.equal(test.apply(ramp(20, 30), b)));  // nothing random
  // A white pixel maps to (1 − mean) / std per channel.
  const at::Tensor white = test.apply(at::full({16, 16, 3}, 255, at::kByte), a);
  EXPECT_NEAR(white[0][3][3].item<float>(), (1.0f - 0.485f) / 0.229f, 1e-5);
  EXPECT_NEAR(white[2][3][3].item<float>(), (1.0f - 0.406f) / 0.225f, 1e-5);
  EXPECT_EQ(test.describe(), "Resize(16) CenterCrop(16x16) Normalize");
}

TEST(Transforms, CenterCropTakesTheMiddle) {
  Transforms t;
  t.center_crop(2, 2);
  SampleRng rng(0, RandomStream::Transform, 0, 0);
  const at::Tensor x = t.apply(ramp(4, 4), rng);  // pixel (r, c) = 4r + c
  EXPECT_NEAR(x[0][0][0].item<float>() * 255.0f, 5.0f, 1e-3);
  EXPECT_NEAR(x[0][1][1].item<float>() * 255.0f, 10.0f, 1e-3);
}

TEST(Transforms, TrainRecipeRandomnessIsAFunctionOfTheGenerator) {
  const Transforms train = Transforms::train(16, 4);
  const at::Tensor image = ramp(24, 24);
  auto run = [&](uint64_t seed, uint64_t epoch, uint64_t index) {
    SampleRng rng(seed, RandomStream::Transform, epoch, index);
    return train.apply(image, rng);
  };
  EXPECT_EQ(run(3, 1, 5).sizes(), (std::vector<int64_t>{3, 16, 16}));
  EXPECT_TRUE(run(3, 1, 5).equal(run(3, 1, 5)));
  int differing = 0;
  for (uint64_t index = 0; index < 8; ++index) differing += !run(3, 1, index).equal(run(3, 2, index));
  EXPECT_GT(differing, 0);
}

TEST(Transforms, RandomCropPadsWithZerosAndFlipMirrors) {
  Transforms crop;
  crop.random_crop(6, 6, 3);  // a 4×4 image padded to 10×10
  Transforms flip;
  flip.horizontal_flip(1.0);
  bool saw_padding = false;
  for (uint64_t i = 0; i < 20; ++i) {
    SampleRng rng(0, RandomStream::Transform, 0, i);
    const at::Tensor x = crop.apply(at::full({4, 4, 3}, 255, at::kByte), rng);
    ASSERT_EQ(x.sizes(), (std::vector<int64_t>{3, 6, 6}));
    saw_padding |= x.min().item<float>() == 0.0f;
  }
  EXPECT_TRUE(saw_padding);
  SampleRng rng(0, RandomStream::Transform, 0, 0);
  const at::Tensor x = flip.apply(ramp(2, 3), rng);
  EXPECT_NEAR(x[0][0][0].item<float>() * 255.0f, 2.0f, 1e-3);
}

TEST(Transforms, InvalidParametersAreRejected) {
  Transforms t;
  EXPECT_THROW(t.resize(0), dmx::Error);
  EXPECT_THROW(t.random_crop(4, 4, -1), dmx::Error);
  EXPECT_THROW(t.horizontal_flip(1.5), dmx::Error);
  EXPECT_THROW(t.normalize({0.5f}, {0.0f}), dmx::Error);
  Transforms norm;
  norm.imagenet_normalize();
  SampleRng rng(0, RandomStream::Transform, 0, 0);
  EXPECT_THROW(norm.apply(at::zeros({4, 4, 2}, at::kByte), rng), dmx::Error);  // 3 means, 2 channels
  EXPECT_THROW(norm.apply(at::zeros({4, 4, 3}, at::kFloat), rng), dmx::Error);  // not uint8
}

}  // namespace
