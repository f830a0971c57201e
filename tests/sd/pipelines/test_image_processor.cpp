// Pixel conversions around the VAE: uint8 <-> [0, 1] <-> [-1, 1], the decoder's clamp, and resizing.
#include "diffmix/error.hpp"
#include "diffmix/sd/image_processor.hpp"

#include <gtest/gtest.h>

namespace {

using namespace dmx::sd;

TEST(ImageProcessor, Uint8RoundTripsThroughTheModelRange) {
  const auto pixels = at::arange(0, 256, at::kInt).to(at::kByte).reshape({1, 16, 16}).repeat({3, 1, 1})
                          .permute({1, 2, 0}).contiguous();  // H×W×3 covering every value
  const auto unit = images_from_uint8(pixels);
  ASSERT_EQ(unit.sizes(), (at::IntArrayRef{1, 3, 16, 16}));
  EXPECT_FLOAT_EQ(unit.min().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(unit.max().item<float>(), 1.0f);
  const auto model_range = normalize_images(unit);
  EXPECT_FLOAT_EQ(model_range.min().item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(model_range.max().item<float>(), 1.0f);
  // What the VAE decoder returns for a perfect reconstruction comes back as the same bytes.
  const auto back = images_to_uint8(postprocess_images(model_range));
  EXPECT_TRUE(at::equal(back[0], pixels));
}

TEST(ImageProcessor, DecodedValuesOutsideTheRangeAreClamped) {
  const auto decoded = at::tensor({-3.0f, -1.0f, 0.0f, 1.0f, 3.0f}).reshape({1, 1, 1, 5}).expand({1, 3, 1, 5});
  const auto images = postprocess_images(decoded.contiguous());
  ASSERT_EQ(images.sizes(), (at::IntArrayRef{1, 1, 5, 3}));
  const auto first_channel = images.select(3, 0).flatten();
  EXPECT_TRUE(at::allclose(first_channel, at::tensor({0.0f, 0.0f, 0.5f, 1.0f, 1.0f})));
}

TEST(ImageProcessor, ResizeChangesOnlyTheSpatialSize) {
  const auto images = at::rand({2, 3, 40, 48});
  EXPECT_EQ(resize_images(images, 32, 32).sizes(), (at::IntArrayRef{2, 3, 32, 32}));
  EXPECT_EQ(resize_images(images, 64, 80).sizes(), (at::IntArrayRef{2, 3, 64, 80}));
  const auto constant = at::full({1, 3, 40, 48}, 0.25f);
  EXPECT_TRUE(at::allclose(resize_images(constant, 17, 23), at::full({1, 3, 17, 23}, 0.25f)));
}

TEST(ImageProcessor, WrongShapesAreShapeErrors) {
  EXPECT_THROW(images_from_uint8(at::zeros({4, 4, 3}, at::kFloat)), dmx::Error);
  EXPECT_THROW(images_from_uint8(at::zeros({4, 4, 4}, at::kByte)), dmx::Error);
  EXPECT_THROW(normalize_images(at::zeros({1, 4, 8, 8})), dmx::Error);
  EXPECT_THROW(postprocess_images(at::zeros({3, 8, 8})), dmx::Error);
  EXPECT_THROW(resize_images(at::zeros({1, 3, 8, 8}), 0, 8), dmx::Error);
}

}  // namespace
