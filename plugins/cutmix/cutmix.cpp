// CutMix (Yun et al., 2019): paste a box of the partner image; the label weight of each image is its visible area.
#include <algorithm>
#include <cmath>

#include "../common/batch_mixing.hpp"

namespace dmx::plugins {

class CutMix {
 public:
  static constexpr const char* kName = "cutmix";
  static constexpr const char* kDescription = "CutMix: paste a random box from another image, mix labels by area";
  static constexpr const char* kConfigSchema = MixingParameters::kSchema;

  explicit CutMix(const dmx::plugin::Context& context)
      : params_(MixingParameters::from(context, 1.0)), seed_(context.seed()) {}

  dmx::Batch apply(const dmx::Batch& batch, uint64_t step) {
    check_batch(batch, params_, kName);
    BatchRandom random(seed_, step);
    if (batch.images.size(0) < 2 || !random.bernoulli(params_.prob)) return {batch.images.clone(), batch.labels.clone()};

    const int64_t height = batch.images.size(2), width = batch.images.size(3);
    const double lambda = random.beta(params_.alpha);
    // The box covers a fraction (1 - lambda) of the image before clipping at the borders.
    const double cut_ratio = std::sqrt(1.0 - lambda);
    const auto cut_h = static_cast<int64_t>(height * cut_ratio), cut_w = static_cast<int64_t>(width * cut_ratio);
    const auto center_y = static_cast<int64_t>(random.uniform() * height);
    const auto center_x = static_cast<int64_t>(random.uniform() * width);
    const int64_t y0 = std::clamp<int64_t>(center_y - cut_h / 2, 0, height), y1 = std::clamp<int64_t>(center_y + cut_h / 2, 0, height);
    const int64_t x0 = std::clamp<int64_t>(center_x - cut_w / 2, 0, width), x1 = std::clamp<int64_t>(center_x + cut_w / 2, 0, width);

    at::Tensor images = batch.images.clone();
    images.slice(2, y0, y1).slice(3, x0, x1).copy_(partner(batch.images).slice(2, y0, y1).slice(3, x0, x1));
    // The label follows the pixels actually pasted, after clipping.
    const double pasted = static_cast<double>((y1 - y0) * (x1 - x0)) / static_cast<double>(height * width);
    at::Tensor labels = batch.labels * (1.0 - pasted) + partner(batch.labels) * pasted;
    return {images, labels};
  }

 private:
  MixingParameters params_;
  uint64_t seed_;
};

}  // namespace dmx::plugins

DMX_PLUGIN("cutmix", "1.0.0", "CutMix batch augmentation", dmx::plugin::batch_augmenter<dmx::plugins::CutMix>())
