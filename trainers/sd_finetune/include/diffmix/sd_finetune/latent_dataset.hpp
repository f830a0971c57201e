// The training set as VAE posteriors, encoded once and reused at every step (the VAE is frozen, so encoding an image
// again would give the same distribution):
//
//   auto latents = LatentDataset::encode(dataset, vae, 512);
//   LatentDraw draw{indices, flips, crop_draws, noise};            // one row per example of the step
//   at::Tensor x0 = latents.sample(draw, device);                  // scaling_factor × (mean + std × noise)
//
// The training transform is Resize(short side = resolution) → RandomCrop(resolution) → RandomHorizontalFlip. Each
// image is resized, its long side trimmed to a multiple of the VAE's downsampling factor f, and the whole image and
// its mirror image are encoded. The crop and the flip are then drawn at every step, like the pixel-space transform:
// the crop is taken from the latents at a position on the latent grid (pixel offsets that are multiples of f). At
// the crop's border the latents see a few pixels of context outside the crop, which an encoding of the cropped
// image would not; that is the price of encoding each image once instead of at every step.
#pragma once

#include "diffmix/data/dataset.hpp"
#include "diffmix/sd/autoencoder_kl.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace dmx::finetune {

// The random choices of one step, one row per example.
struct LatentDraw {
  at::Tensor indices;     // int64 [B]: image index
  at::Tensor flips;       // int64 [B]: 1 takes the mirror image
  at::Tensor crop_draws;  // float [B, 2] in [0, 1): the crop's vertical and horizontal position, as a fraction of
                          // the positions the image allows
  at::Tensor noise;       // float [B, C, h, w]: the posterior sample's standard normal noise
};

class LatentDataset {
 public:
  // Encodes every image of `dataset` (and its mirror image) with `vae`; checks for cancellation between images.
  static LatentDataset encode(const data::Dataset& dataset, const sd::AutoencoderKL& vae, int64_t resolution);

  int64_t size() const { return static_cast<int64_t>(mean_.size()); }
  const std::vector<int64_t>& labels() const { return labels_; }
  // The latent shape of one training example: {channels, resolution / f, resolution / f}.
  std::vector<int64_t> latent_shape() const;
  // The latent shape of image `index` before cropping: {2 (as is, mirrored), channels, h, w}.
  std::vector<int64_t> image_latent_shape(int64_t index) const;
  // The crop's top-left corner in latent cells for image `index` and a crop draw (u_y, u_x) in [0, 1)².
  std::pair<int64_t, int64_t> crop_origin(int64_t index, double u_y, double u_x) const;

  // Scaled latents [B, C, h, w] on `device`: scaling_factor × (mean + std × noise) of each example's crop of its
  // image, mirrored where flips[b] is 1.
  at::Tensor sample(const LatentDraw& draw, at::Device device) const;

 private:
  std::vector<at::Tensor> mean_, std_;  // per image [2, C, h_i, w_i] float32 on the CPU; index 1 is the mirror image
  std::vector<int64_t> labels_;
  int64_t crop_cells_ = 0;  // resolution / f
  double scaling_factor_ = 1.0;
};

}  // namespace dmx::finetune
