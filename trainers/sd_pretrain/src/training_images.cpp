#include "diffmix/sd_pretrain/training_images.hpp"

#include "diffmix/cancellation.hpp"
#include "diffmix/error.hpp"

#include <algorithm>
#include <vector>

namespace dmx::pretrain {
namespace {

// uint8 H×W×C → uint8 C×R×R: short side to `resolution`, then the central square.
at::Tensor square_image(const at::Tensor& image, int64_t resolution) {
  const auto height = image.size(0), width = image.size(1);
  const auto scale = static_cast<double>(resolution) / static_cast<double>(std::min(height, width));
  const auto new_height = std::max<int64_t>(resolution, static_cast<int64_t>(height * scale + 0.5));
  const auto new_width = std::max<int64_t>(resolution, static_cast<int64_t>(width * scale + 0.5));
  auto x = image.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
  if (new_height != height || new_width != width) {
    const bool shrinking = new_height < height || new_width < width;
    x = shrinking ? at::_upsample_bilinear2d_aa(x, {new_height, new_width}, false, c10::nullopt, c10::nullopt)
                  : at::upsample_bilinear2d(x, {new_height, new_width}, false, c10::nullopt, c10::nullopt);
  }
  const auto top = (new_height - resolution) / 2, left = (new_width - resolution) / 2;
  x = x.slice(2, top, top + resolution).slice(3, left, left + resolution);
  return x.round().clamp(0, 255).to(at::kByte).squeeze(0);
}

}  // namespace

TrainingImages TrainingImages::load(const data::Dataset& dataset, int64_t resolution) {
  if (dataset.size() == 0) throw dmx::invalid_argument(dataset.name() + ": no images to pretrain on");
  // Gray datasets stay gray in memory (a third of the bytes); anything else is loaded as RGB.
  const bool gray = dataset.load_image(0, {0, resolution}).size(2) == 1;
  const data::ImageRequest request{gray ? 0 : 3, resolution};
  std::vector<at::Tensor> images;
  images.reserve(static_cast<size_t>(dataset.size()));
  for (int64_t i = 0; i < dataset.size(); ++i) {
    if (i % 1000 == 0) throw_if_cancelled("loading the training images");
    auto image = dataset.load_image(i, request);
    if (image.size(2) != (gray ? 1 : 3)) {
      throw dmx::format_error(dataset.describe(i) + ": has " + std::to_string(image.size(2)) +
                              " channels, but the dataset's first image has " + (gray ? "1" : "3"));
    }
    images.push_back(square_image(image, resolution));
  }
  TrainingImages out;
  out.pixels_ = at::stack(images);
  return out;
}

at::Tensor TrainingImages::batch(const at::Tensor& indices) const {
  auto x = pixels_.index_select(0, indices).to(at::kFloat).div_(127.5).sub_(1.0);
  return x.size(1) == 1 ? x.expand({-1, 3, -1, -1}).contiguous() : x;
}

}  // namespace dmx::pretrain
