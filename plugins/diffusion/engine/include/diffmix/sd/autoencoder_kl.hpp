// AutoencoderKL: Stable Diffusion's VAE, as diffusers' autoencoder_kl.py.
//
//   auto vae = dmx::sd::AutoencoderKL::load("sd15", at::kFloat, at::kCPU);
//   at::Tensor latents = vae.encode(images).sample(noise) * vae.scaling_factor();   // images in [-1, 1]
//   at::Tensor images_back = vae.decode(latents / vae.scaling_factor());
//
// encode/decode do not apply scaling_factor themselves, exactly like diffusers; pipelines do. Like the UNet, they set
// no grad mode: callers wrap inference in c10::InferenceMode.
#pragma once

#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/vae.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

struct AutoencoderKLConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  std::vector<std::string> down_block_types;
  std::vector<std::string> up_block_types;
  std::vector<int64_t> block_out_channels;
  int64_t layers_per_block = 1;
  int64_t latent_channels = 4;
  int64_t norm_num_groups = 32;
  int64_t sample_size = 32;
  double scaling_factor = 0.18215;

  // Reads `<vae folder>/config.json`; a missing or wrong-typed key is a dmx::Error naming the file and the key.
  static AutoencoderKLConfig load(const std::string& config_path);

  // Image pixels per latent pixel along each side: 2^(number of blocks - 1) (8 for SD 1.x).
  int64_t downsampling_factor() const { return int64_t{1} << (block_out_channels.size() - 1); }
};

// The encoder's posterior N(mean, std²) per latent element, from the moments [mean | logvar] along channels.
class DiagonalGaussian {
 public:
  // moments: [B, 2*C, h, w]. logvar is clamped to [-30, 20] as in diffusers.
  explicit DiagonalGaussian(const at::Tensor& moments);

  const at::Tensor& mean() const { return mean_; }
  const at::Tensor& logvar() const { return logvar_; }
  const at::Tensor& std() const { return std_; }
  // mean + std * noise; noise has the mean's shape (drawn by the caller, so any generator can be used).
  at::Tensor sample(const at::Tensor& noise) const;
  // The mode of the distribution (its mean).
  const at::Tensor& mode() const { return mean_; }

 private:
  at::Tensor mean_, logvar_, std_;
};

class AutoencoderKL {
 public:
  // `folder` is a diffusers pipeline folder (its vae/ is used) or the vae component folder itself.
  static AutoencoderKL load(const std::string& folder, at::ScalarType dtype = at::kFloat,
                            at::Device device = at::kCPU);

  // images [B, in_channels, H, W] in [-1, 1] (H and W are normally multiples of downsampling_factor()).
  DiagonalGaussian encode(const at::Tensor& images) const;
  // latents [B, latent_channels, h, w] (already divided by scaling_factor) -> images [B, out_channels, h*f, w*f],
  // not clamped.
  at::Tensor decode(const at::Tensor& latents) const;

  const AutoencoderKLConfig& config() const { return config_; }
  double scaling_factor() const { return config_.scaling_factor; }
  int64_t downsampling_factor() const { return config_.downsampling_factor(); }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }

 private:
  AutoencoderKL(AutoencoderKLConfig config, at::ScalarType dtype, at::Device device);
  AutoencoderKLConfig config_;
  at::ScalarType dtype_;
  at::Device device_;
  std::optional<Encoder> encoder_;
  std::optional<Conv2d> quant_conv_;
  std::optional<Conv2d> post_quant_conv_;
  std::optional<Decoder> decoder_;
};

}  // namespace dmx::sd
