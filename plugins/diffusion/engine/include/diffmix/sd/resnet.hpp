// Convolutional building blocks shared by the UNet and the VAE, as diffusers' resnet.py / downsampling.py /
// upsampling.py: ResnetBlock2D, Downsample2D and Upsample2D.
#pragma once

#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/state_dict.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

namespace dmx::sd {

struct ResnetBlockShape {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t temb_channels = 0;  // 0: no timestep projection (the VAE's blocks)
  int64_t groups = 32;
  double eps = 1e-5;
  double output_scale_factor = 1.0;
};

// GroupNorm -> SiLU -> conv1 (+ projected timestep embedding) -> GroupNorm -> SiLU -> conv2, plus the input (through
// a 1x1 conv_shortcut when the channel count changes), divided by output_scale_factor.
class ResnetBlock2D {
 public:
  static ResnetBlock2D load(StateDict& weights, const std::string& prefix, const ResnetBlockShape& shape);
  // temb: [B, temb_channels], or undefined for blocks loaded without a timestep projection.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb) const;

 private:
  ResnetBlock2D() = default;
  std::optional<GroupNorm> norm1_, norm2_;
  std::optional<Conv2d> conv1_, conv2_, conv_shortcut_;
  std::optional<Linear> time_emb_proj_;
  double output_scale_factor_ = 1.0;
};

// A stride-2 3x3 convolution. padding 0 (the VAE encoder) first pads one zero row/column at the bottom/right, so that
// odd and even sizes both halve as in diffusers.
class Downsample2D {
 public:
  static Downsample2D load(StateDict& weights, const std::string& prefix, int64_t channels, int64_t padding);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  Downsample2D(Conv2d conv, int64_t padding);
  Conv2d conv_;
  int64_t padding_;
};

// Nearest-neighbour 2x upsampling (or to an explicit size, matching a skip connection) followed by a 3x3 convolution.
class Upsample2D {
 public:
  static Upsample2D load(StateDict& weights, const std::string& prefix, int64_t channels);
  // output_size: [H, W] to upsample to; empty means twice the input size.
  at::Tensor forward(const at::Tensor& x, at::IntArrayRef output_size = {}) const;

 private:
  explicit Upsample2D(Conv2d conv);
  Conv2d conv_;
};

}  // namespace dmx::sd
