// JPEG/PNG decoding and encoding: round trips, channel conversion, DCT-scaled decoding, corrupt files, atomic writes.
#include <gtest/gtest.h>

#include <filesystem>

#include "data_test_files.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"

namespace {

using dmx::test::TempDir;
using dmx::test::test_picture;

template <typename F>
dmx::Error expect_error(F&& f) {
  try {
    f();
  } catch (const dmx::Error& error) {
    return error;
  }
  ADD_FAILURE() << "expected a dmx::Error";
  return dmx::internal_error("none");
}

TEST(Image, PngRoundTripIsExactForGrayRgbAndRgba) {
  for (const int channels : {1, 3, 4}) {
    const at::Tensor image = at::randint(0, 256, {7, 5, channels}, at::kLong).to(at::kByte);
    const auto bytes = dmx::io::encode_png(image);
    dmx::io::DecodeOptions as_stored;
    as_stored.channels = 0;
    const at::Tensor decoded = dmx::io::decode_image(bytes, "mem.png", as_stored);
    const at::Tensor expected = channels == 4 ? image.narrow(2, 0, 3) : image;
    EXPECT_TRUE(decoded.equal(expected)) << channels << " channels";
  }
}

TEST(Image, JpegRoundTripIsClose) {
  const at::Tensor image = test_picture(64, 48);
  const at::Tensor decoded = dmx::io::decode_image(dmx::io::encode_jpeg(image, 95), "mem.jpg");
  ASSERT_EQ(decoded.sizes(), image.sizes());
  const double error = (decoded.to(at::kFloat) - image.to(at::kFloat)).abs().mean().item<double>();
  EXPECT_LT(error, 3.0);
}

TEST(Image, GrayBecomesThreeEqualChannelsAndBack) {
  const at::Tensor gray = at::randint(0, 256, {6, 6, 1}, at::kLong).to(at::kByte);
  const at::Tensor rgb = dmx::io::decode_image(dmx::io::encode_png(gray), "gray.png");
  ASSERT_EQ(rgb.size(2), 3);
  EXPECT_TRUE(rgb.select(2, 0).equal(gray.select(2, 0)));
  EXPECT_TRUE(rgb.select(2, 2).equal(gray.select(2, 0)));
  EXPECT_TRUE(dmx::io::convert_channels(rgb, 1).equal(gray));
}

TEST(Image, JpegDecodesAtReducedScaleButNotBelowMinSize) {
  const auto bytes = dmx::io::encode_jpeg(test_picture(400, 320), 90);
  dmx::io::DecodeOptions options;
  options.min_size = 100;  // 1/3 would do; the largest DCT step keeping >= 100 px is 3/8 (150×120)
  const at::Tensor scaled = dmx::io::decode_image(bytes, "big.jpg", options);
  EXPECT_GE(scaled.size(0), 100);
  EXPECT_GE(scaled.size(1), 100);
  EXPECT_LT(scaled.size(1), 320);
  options.min_size = 0;
  EXPECT_EQ(dmx::io::decode_image(bytes, "big.jpg", options).size(0), 400);
}

TEST(Image, UnknownBytesAreAFormatErrorNamingTheFile) {
  const std::vector<uint8_t> junk = {'h', 'e', 'l', 'l', 'o'};
  const dmx::Error error = expect_error([&] { dmx::io::decode_image(junk, "photos/x.jpg"); });
  EXPECT_EQ(error.category(), dmx::ErrorCategory::Format);
  EXPECT_NE(std::string(error.what()).find("photos/x.jpg"), std::string::npos);
}

TEST(Image, TruncatedJpegAndPngAreFormatErrors) {
  auto jpeg = dmx::io::encode_jpeg(test_picture(64, 64), 90);
  jpeg.resize(jpeg.size() / 2);
  EXPECT_EQ(expect_error([&] { dmx::io::decode_image(jpeg, "half.jpg"); }).category(), dmx::ErrorCategory::Format);
  auto png = dmx::io::encode_png(at::randint(0, 256, {64, 64, 3}, at::kLong).to(at::kByte));
  png.resize(png.size() / 2);
  const dmx::Error error = expect_error([&] { dmx::io::decode_image(png, "half.png"); });
  EXPECT_EQ(error.category(), dmx::ErrorCategory::Format);
  EXPECT_NE(std::string(error.what()).find("half.png"), std::string::npos);
}

TEST(Image, CorruptJpegHeaderIsAFormatError) {
  std::vector<uint8_t> bytes = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x02, 0x13, 0x37};
  EXPECT_EQ(expect_error([&] { dmx::io::decode_image(bytes, "bad.jpg"); }).category(), dmx::ErrorCategory::Format);
}

TEST(Image, AGoodJpegDecodesAfterACorruptOneOnTheSameThread) {
  const auto good = dmx::io::encode_jpeg(test_picture(16, 16), 90);
  const std::vector<uint8_t> bad = {0xff, 0xd8, 0xff, ' ', 'g', 'a', 'r', 'b', 'a', 'g', 'e'};
  for (int round = 0; round < 3; ++round) {
    EXPECT_THROW(dmx::io::decode_image(bad, "bad.jpg"), dmx::Error);
    EXPECT_EQ(dmx::io::decode_image(good, "good.jpg").size(0), 16);
  }
}

TEST(Image, WriteImageIsAtomicAndChoosesFormatByExtension) {
  TempDir dir;
  const at::Tensor image = test_picture(10, 12);
  dmx::io::write_image(dir / "a.png", image);
  dmx::io::write_image(dir / "b.JPG", image);
  EXPECT_TRUE(dmx::io::read_image(dir / "a.png").equal(image));
  EXPECT_EQ(dmx::io::read_image(dir / "b.JPG").sizes(), image.sizes());
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.str())) ++files;
  EXPECT_EQ(files, 2u);  // no temporary left behind
  EXPECT_EQ(expect_error([&] { dmx::io::write_image(dir / "c.bmp", image); }).category(),
            dmx::ErrorCategory::InvalidArgument);
}

TEST(Image, WritingIntoAMissingFolderIsAnIoErrorNamingTheFile) {
  TempDir dir;
  const dmx::Error error = expect_error([&] { dmx::io::write_image(dir / "no/such/x.png", test_picture(4, 4)); });
  EXPECT_EQ(error.category(), dmx::ErrorCategory::Io);
  EXPECT_NE(std::string(error.what()).find("no/such/x.png"), std::string::npos);
}

TEST(Image, MissingFileIsNotFound) {
  EXPECT_EQ(expect_error([] { dmx::io::read_image("/nonexistent/x.png"); }).category(),
            dmx::ErrorCategory::NotFound);
}

TEST(Image, EncodingRejectsWrongShapes) {
  EXPECT_EQ(expect_error([] { dmx::io::encode_png(at::zeros({4, 4, 2}, at::kByte)); }).category(),
            dmx::ErrorCategory::Shape);
  EXPECT_EQ(expect_error([] { dmx::io::encode_jpeg(at::zeros({4, 4, 3}, at::kFloat)); }).category(),
            dmx::ErrorCategory::Shape);
}

}  // namespace
