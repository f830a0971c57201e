// Per-sample transforms: uint8 H×W×C image in, float C×H×W tensor out, like torchvision's
// Compose([Resize, RandomCrop, RandomHorizontalFlip, ToTensor, Normalize]).
//
//   auto train = dmx::data::Transforms::train(224);   // Resize(224) → RandomCrop(224, padding 8) → flip → normalize
//   auto test  = dmx::data::Transforms::test(224);    // Resize(224) → CenterCrop(224) → normalize
//   at::Tensor x = train.apply(image, rng);            // rng: the sample's SampleRng
//
// The randomness comes from the SampleRng passed in, so a sample's crop and flip depend only on (seed, epoch, index).
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "diffmix/data/sample_rng.hpp"

namespace dmx::data {

// ImageNet statistics (torchvision's Normalize defaults for pretrained models).
inline constexpr std::array<float, 3> kImageNetMean = {0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImageNetStd = {0.229f, 0.224f, 0.225f};

struct TransformStep {
  enum class Kind { Resize, RandomCrop, CenterCrop, HorizontalFlip, Normalize };
  Kind kind = Kind::Resize;
  // Resize: height/width; width 0 resizes the short side to `height` keeping the aspect ratio (torchvision's int).
  // RandomCrop / CenterCrop: output height × width. RandomCrop pads by `padding` zeros on each side first.
  int64_t height = 0;
  int64_t width = 0;
  int64_t padding = 0;
  double probability = 0.5;        // HorizontalFlip
  std::vector<float> mean, stddev;  // Normalize, one value per channel (or one for all)
};

class Transforms {
 public:
  Transforms() = default;

  // The paper's recipes (docs/method.md) at `size` px: train = Resize(size) → RandomCrop(size, padding) → flip →
  // ImageNet normalize; test = Resize(size) → CenterCrop(size) → ImageNet normalize. `square` resizes to size×size
  // instead of the short side.
  static Transforms train(int64_t size, int64_t padding = 8, bool square = false);
  static Transforms test(int64_t size, bool square = false);

  Transforms& resize(int64_t height, int64_t width = 0);
  Transforms& random_crop(int64_t height, int64_t width, int64_t padding = 0);
  Transforms& center_crop(int64_t height, int64_t width);
  Transforms& horizontal_flip(double probability = 0.5);
  Transforms& normalize(std::vector<float> mean, std::vector<float> stddev);
  Transforms& imagenet_normalize();

  // uint8 H×W×C → float C×H×W in [0, 1] before normalization. Draws from `rng` only for random steps.
  at::Tensor apply(const at::Tensor& image, SampleRng& rng) const;

  // The short side a decoder must keep for the first Resize to be exact (a JPEG DCT-scaling hint); 0 if unknown.
  int64_t min_decode_size() const;
  const std::vector<TransformStep>& steps() const { return steps_; }
  // "Resize(224) RandomCrop(224, padding=8) HorizontalFlip(0.5) Normalize" for logs.
  std::string describe() const;

 private:
  std::vector<TransformStep> steps_;
};

// Single steps on float C×H×W tensors, exposed for tests and custom pipelines.
// Bilinear resize with antialiasing when shrinking (torchvision's default for tensors since 0.17).
at::Tensor resize_image(const at::Tensor& chw, int64_t height, int64_t width);
// uint8 H×W×C → float C×H×W in [0, 1].
at::Tensor to_float_chw(const at::Tensor& hwc_uint8);

}  // namespace dmx::data
