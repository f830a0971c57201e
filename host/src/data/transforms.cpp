#include "diffmix/data/transforms.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "diffmix/error.hpp"

namespace dmx::data {
namespace {

using Kind = TransformStep::Kind;

std::string shape_of(const at::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

// torchvision's Resize(int): the short side becomes `size`, the long side keeps the aspect ratio (truncated).
std::pair<int64_t, int64_t> short_side_size(int64_t height, int64_t width, int64_t size) {
  if (height <= width) return {size, static_cast<int64_t>(static_cast<double>(size) * width / height)};
  return {static_cast<int64_t>(static_cast<double>(size) * height / width), size};
}

// Zero padding on each side, plus whatever is still missing for an out_h × out_w crop (torchvision's
// pad_if_needed), so that a crop never reads outside the image.
at::Tensor pad_for_crop(const at::Tensor& chw, int64_t padding, int64_t out_h, int64_t out_w) {
  const int64_t extra_h = std::max<int64_t>(0, out_h - (chw.size(1) + 2 * padding));
  const int64_t extra_w = std::max<int64_t>(0, out_w - (chw.size(2) + 2 * padding));
  if (padding == 0 && extra_h == 0 && extra_w == 0) return chw;
  const int64_t top = padding + extra_h / 2, bottom = padding + extra_h - extra_h / 2;
  const int64_t left = padding + extra_w / 2, right = padding + extra_w - extra_w / 2;
  return at::constant_pad_nd(chw, {left, right, top, bottom}, 0.0);
}

at::Tensor crop(const at::Tensor& chw, int64_t top, int64_t left, int64_t height, int64_t width) {
  return chw.narrow(1, top, height).narrow(2, left, width);
}

at::Tensor crop_randomly(const at::Tensor& chw, const TransformStep& step, SampleRng& rng) {
  const at::Tensor padded = pad_for_crop(chw, step.padding, step.height, step.width);
  const auto top = static_cast<int64_t>(rng.below(static_cast<uint64_t>(padded.size(1) - step.height + 1)));
  const auto left = static_cast<int64_t>(rng.below(static_cast<uint64_t>(padded.size(2) - step.width + 1)));
  return crop(padded, top, left, step.height, step.width);
}

at::Tensor crop_center(const at::Tensor& chw, const TransformStep& step) {
  const at::Tensor padded = pad_for_crop(chw, 0, step.height, step.width);
  const auto top = static_cast<int64_t>(std::round((padded.size(1) - step.height) / 2.0));
  const auto left = static_cast<int64_t>(std::round((padded.size(2) - step.width) / 2.0));
  return crop(padded, top, left, step.height, step.width);
}

at::Tensor normalize_channels(const at::Tensor& chw, const TransformStep& step) {
  const auto channels = static_cast<size_t>(chw.size(0));
  if ((step.mean.size() != 1 && step.mean.size() != channels) || step.mean.size() != step.stddev.size())
    throw shape_error("Normalize: " + std::to_string(step.mean.size()) + " means and " +
                      std::to_string(step.stddev.size()) + " standard deviations for an image with " +
                      std::to_string(channels) + " channels");
  const at::Tensor mean = at::tensor(step.mean).view({-1, 1, 1});
  const at::Tensor stddev = at::tensor(step.stddev).view({-1, 1, 1});
  return (chw - mean) / stddev;
}

std::string describe_step(const TransformStep& step) {
  std::ostringstream out;
  switch (step.kind) {
    case Kind::Resize:
      out << "Resize(" << step.height;
      if (step.width > 0) out << "x" << step.width;
      out << ")";
      break;
    case Kind::RandomCrop:
      out << "RandomCrop(" << step.height << "x" << step.width << ", padding=" << step.padding << ")";
      break;
    case Kind::CenterCrop: out << "CenterCrop(" << step.height << "x" << step.width << ")"; break;
    case Kind::HorizontalFlip: out << "HorizontalFlip(" << step.probability << ")"; break;
    case Kind::Normalize: out << "Normalize"; break;
  }
  return out.str();
}

void check_positive(int64_t value, const char* what) {
  if (value <= 0) throw invalid_argument(std::string(what) + " must be > 0, got " + std::to_string(value));
}

}  // namespace

at::Tensor to_float_chw(const at::Tensor& hwc_uint8) {
  if (hwc_uint8.dim() != 3 || hwc_uint8.scalar_type() != at::kByte)
    throw shape_error("transforms expect a uint8 H×W×C image, got " + shape_of(hwc_uint8));
  return hwc_uint8.permute({2, 0, 1}).to(at::kFloat).div_(255.0);
}

at::Tensor resize_image(const at::Tensor& chw, int64_t height, int64_t width) {
  if (chw.size(1) == height && chw.size(2) == width) return chw;
  const at::Tensor batch = chw.unsqueeze(0).contiguous();
  const bool shrinking = height < chw.size(1) || width < chw.size(2);
  // Antialiasing (a triangle filter as wide as the scale) avoids aliasing when shrinking, as torchvision and PIL do.
  const at::Tensor resized = shrinking
                                 ? at::_upsample_bilinear2d_aa(batch, {height, width}, false, c10::nullopt, c10::nullopt)
                                 : at::upsample_bilinear2d(batch, {height, width}, false, c10::nullopt, c10::nullopt);
  return resized.squeeze(0);
}

Transforms Transforms::train(int64_t size, int64_t padding, bool square) {
  Transforms t;
  t.resize(size, square ? size : 0).random_crop(size, size, padding).horizontal_flip(0.5).imagenet_normalize();
  return t;
}

Transforms Transforms::test(int64_t size, bool square) {
  Transforms t;
  t.resize(size, square ? size : 0).center_crop(size, size).imagenet_normalize();
  return t;
}

Transforms& Transforms::resize(int64_t height, int64_t width) {
  check_positive(height, "Resize size");
  if (width < 0) throw invalid_argument("Resize width must be >= 0 (0: keep aspect), got " + std::to_string(width));
  TransformStep step;
  step.kind = Kind::Resize;
  step.height = height;
  step.width = width;
  steps_.push_back(step);
  return *this;
}

Transforms& Transforms::random_crop(int64_t height, int64_t width, int64_t padding) {
  check_positive(height, "RandomCrop height");
  check_positive(width, "RandomCrop width");
  if (padding < 0) throw invalid_argument("RandomCrop padding must be >= 0, got " + std::to_string(padding));
  TransformStep step;
  step.kind = Kind::RandomCrop;
  step.height = height;
  step.width = width;
  step.padding = padding;
  steps_.push_back(step);
  return *this;
}

Transforms& Transforms::center_crop(int64_t height, int64_t width) {
  check_positive(height, "CenterCrop height");
  check_positive(width, "CenterCrop width");
  TransformStep step;
  step.kind = Kind::CenterCrop;
  step.height = height;
  step.width = width;
  steps_.push_back(step);
  return *this;
}

Transforms& Transforms::horizontal_flip(double probability) {
  if (!(probability >= 0.0 && probability <= 1.0))
    throw invalid_argument("HorizontalFlip probability must lie in [0, 1], got " + std::to_string(probability));
  TransformStep step;
  step.kind = Kind::HorizontalFlip;
  step.probability = probability;
  steps_.push_back(step);
  return *this;
}

Transforms& Transforms::normalize(std::vector<float> mean, std::vector<float> stddev) {
  if (mean.empty() || mean.size() != stddev.size())
    throw invalid_argument("Normalize needs as many standard deviations as means (and at least one)");
  for (const float s : stddev)
    if (!(s > 0.0f)) throw invalid_argument("Normalize standard deviations must be > 0");
  TransformStep step;
  step.kind = Kind::Normalize;
  step.mean = std::move(mean);
  step.stddev = std::move(stddev);
  steps_.push_back(step);
  return *this;
}

Transforms& Transforms::imagenet_normalize() {
  return normalize({kImageNetMean.begin(), kImageNetMean.end()}, {kImageNetStd.begin(), kImageNetStd.end()});
}

at::Tensor Transforms::apply(const at::Tensor& image, SampleRng& rng) const {
  at::Tensor x = to_float_chw(image);
  for (const TransformStep& step : steps_) {
    switch (step.kind) {
      case Kind::Resize: {
        const auto [h, w] = step.width > 0 ? std::make_pair(step.height, step.width)
                                           : short_side_size(x.size(1), x.size(2), step.height);
        x = resize_image(x, h, w);
        break;
      }
      case Kind::RandomCrop: x = crop_randomly(x, step, rng); break;
      case Kind::CenterCrop: x = crop_center(x, step); break;
      case Kind::HorizontalFlip:
        // Always draw, so that the sample's later random steps do not depend on this outcome.
        if (rng.bernoulli(step.probability)) x = x.flip({2});
        break;
      case Kind::Normalize: x = normalize_channels(x, step); break;
    }
  }
  return x.contiguous();
}

int64_t Transforms::min_decode_size() const {
  if (steps_.empty() || steps_.front().kind != Kind::Resize) return 0;
  return std::max(steps_.front().height, steps_.front().width);
}

std::string Transforms::describe() const {
  std::string text;
  for (const TransformStep& step : steps_) text += (text.empty() ? "" : " ") + describe_step(step);
  return text.empty() ? "identity" : text;
}

}  // namespace dmx::data
