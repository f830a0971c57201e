// The training set as posteriors of the trained VAE, encoded once when the UNet phase starts (the VAE is frozen
// from then on, so encoding an image again would give the same distribution):
//
//   auto cache = LatentCache::encode(vae, images, 256);
//   double scaling_factor = cache.scaling_factor(generator);      // 1 / std of posterior samples, as SD's 0.18215
//   at::Tensor x0 = cache.sample(indices, noise) * scaling_factor;
#pragma once

#include "diffmix/sd/autoencoder_kl.hpp"
#include "diffmix/sd_pretrain/training_images.hpp"

#include <ATen/ATen.h>

#include <cstdint>

namespace dmx::pretrain {

class LatentCache {
 public:
  // Encodes every image in batches of `batch_size` without recording gradients; checks for cancellation between
  // batches.
  static LatentCache encode(const sd::AutoencoderKL& vae, const TrainingImages& images, int64_t batch_size);

  int64_t size() const { return mean_.size(0); }
  // {channels, h, w} of one latent.
  std::vector<int64_t> latent_shape() const;
  // The reciprocal of the standard deviation of one posterior sample per image (noise drawn from `generator`):
  // the factor that gives the UNet latents of unit variance.
  double scaling_factor(at::Generator generator) const;
  // mean + std × noise for int64 `indices` [B] and standard normal `noise` [B, C, h, w] (unscaled).
  at::Tensor sample(const at::Tensor& indices, const at::Tensor& noise) const;

 private:
  at::Tensor mean_, std_;  // float [N, C, h, w] on the CPU
};

}  // namespace dmx::pretrain
