// The VAE's two halves, as diffusers' autoencoders/vae.py: Encoder (image -> posterior moments) and Decoder
// (latents -> image), built from DownEncoderBlock2D / UNetMidBlock2D / UpDecoderBlock2D.
#pragma once

#include "diffmix/sd/attention.hpp"
#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/resnet.hpp"
#include "diffmix/sd/state_dict.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

// What Encoder and Decoder read from the AutoencoderKL config.
struct VaeCoderShape {
  int64_t in_channels = 3;   // encoder: image channels; decoder: latent channels
  int64_t out_channels = 3;  // encoder: 2 x latent channels (mean and log-variance); decoder: image channels
  std::vector<int64_t> block_out_channels;
  int64_t layers_per_block = 1;
  int64_t norm_groups = 32;
};

// resnets.0, attentions.0 (single-head self-attention over all positions), resnets.1; no timestep input.
class UNetMidBlock2D {
 public:
  static UNetMidBlock2D load(StateDict& weights, const std::string& prefix, int64_t channels, int64_t norm_groups);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  UNetMidBlock2D() = default;
  std::vector<ResnetBlock2D> resnets_;
  std::optional<Attention> attention_;
};

class Encoder {
 public:
  static Encoder load(StateDict& weights, const std::string& prefix, const VaeCoderShape& shape);
  at::Tensor forward(const at::Tensor& image) const;

 private:
  Encoder() = default;
  struct DownEncoderBlock2D {
    std::vector<ResnetBlock2D> resnets;
    std::optional<Downsample2D> downsampler;
  };
  std::optional<Conv2d> conv_in_;
  std::vector<DownEncoderBlock2D> down_blocks_;
  std::optional<UNetMidBlock2D> mid_block_;
  std::optional<GroupNorm> conv_norm_out_;
  std::optional<Conv2d> conv_out_;
};

class Decoder {
 public:
  static Decoder load(StateDict& weights, const std::string& prefix, const VaeCoderShape& shape);
  at::Tensor forward(const at::Tensor& latents) const;

 private:
  Decoder() = default;
  struct UpDecoderBlock2D {
    std::vector<ResnetBlock2D> resnets;
    std::optional<Upsample2D> upsampler;
  };
  std::optional<Conv2d> conv_in_;
  std::optional<UNetMidBlock2D> mid_block_;
  std::vector<UpDecoderBlock2D> up_blocks_;
  std::optional<GroupNorm> conv_norm_out_;
  std::optional<Conv2d> conv_out_;
};

}  // namespace dmx::sd
