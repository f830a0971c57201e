// Mixup (Zhang et al., 2018): a convex combination of two images and of their labels.
#include "../common/batch_mixing.hpp"

namespace dmx::plugins {

class Mixup {
 public:
  static constexpr const char* kName = "mixup";
  static constexpr const char* kDescription = "Mixup: blend each image with another, labels in the same proportion";
  static constexpr const char* kConfigSchema = MixingParameters::kSchema;

  explicit Mixup(const dmx::plugin::Context& context)
      : params_(MixingParameters::from(context, 1.0)), seed_(context.seed()) {}

  dmx::Batch apply(const dmx::Batch& batch, uint64_t step) {
    check_batch(batch, params_, kName);
    BatchRandom random(seed_, step);
    if (batch.images.size(0) < 2 || !random.bernoulli(params_.prob)) return {batch.images.clone(), batch.labels.clone()};
    const double lambda = random.beta(params_.alpha);
    at::Tensor images = batch.images * lambda + partner(batch.images) * (1.0 - lambda);
    at::Tensor labels = batch.labels * lambda + partner(batch.labels) * (1.0 - lambda);
    return {images, labels};
  }

 private:
  MixingParameters params_;
  uint64_t seed_;
};

}  // namespace dmx::plugins

DMX_PLUGIN("mixup", "1.0.0", "Mixup batch augmentation", dmx::plugin::batch_augmenter<dmx::plugins::Mixup>())
