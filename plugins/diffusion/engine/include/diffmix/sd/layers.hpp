// Functional layers over weight tensors, loaded from a StateDict under a diffusers / transformers parameter prefix:
//
//   auto to_q = Linear::load(weights, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", 320, 320, false);
//   auto y = to_q.forward(x);
//
// Each layer holds plain tensors and calls one ATen op, so weight names map 1:1 to the checkpoint and nothing of
// torch::nn is compiled in. The shapes passed to load() come from the component's config; a weight of another shape
// is an error naming it.
#pragma once

#include "diffmix/sd/state_dict.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace dmx::sd {

// y = x Wᵀ + b (W: [out, in]), plus an optional low-rank adapter: + scale · up(down(x)) with down [r, in], up [out, r].
// merge() folds the adapter into W for faster inference; unmerge() restores the exact original W.
class Linear {
 public:
  static Linear load(StateDict& weights, const std::string& prefix, int64_t in_features, int64_t out_features,
                     bool bias);
  Linear(at::Tensor weight, at::Tensor bias);  // bias may be undefined

  at::Tensor forward(const at::Tensor& x) const;

  const at::Tensor& weight() const { return weight_; }
  const at::Tensor& bias() const { return bias_; }
  int64_t in_features() const { return weight_.size(1); }
  int64_t out_features() const { return weight_.size(0); }

  // Attaches (or replaces) the adapter; shapes must fit W (a Shape error otherwise). A merged adapter is unmerged first.
  void set_lora(at::Tensor down, at::Tensor up, double scale);
  void clear_lora();
  bool has_lora() const { return lora_down_.defined(); }
  const at::Tensor& lora_down() const { return lora_down_; }
  const at::Tensor& lora_up() const { return lora_up_; }
  double lora_scale() const { return lora_scale_; }

  void merge();    // no-op without an adapter or when already merged
  void unmerge();  // no-op unless merged
  bool merged() const { return original_weight_.defined(); }

 private:
  at::Tensor weight_, bias_;
  at::Tensor lora_down_, lora_up_;
  double lora_scale_ = 0.0;
  at::Tensor original_weight_;  // W before merge(); defined only while merged
};

// 2-D convolution with a square kernel, as nn.Conv2d(in, out, kernel, stride, padding) with bias.
class Conv2d {
 public:
  static Conv2d load(StateDict& weights, const std::string& prefix, int64_t in_channels, int64_t out_channels,
                     int64_t kernel_size, int64_t stride, int64_t padding, bool bias = true);
  Conv2d(at::Tensor weight, at::Tensor bias, int64_t stride, int64_t padding);

  at::Tensor forward(const at::Tensor& x) const;
  const at::Tensor& weight() const { return weight_; }
  const at::Tensor& bias() const { return bias_; }

 private:
  at::Tensor weight_, bias_;
  int64_t stride_ = 1;
  int64_t padding_ = 0;
};

// nn.GroupNorm(groups, channels, eps) with affine weight and bias.
class GroupNorm {
 public:
  static GroupNorm load(StateDict& weights, const std::string& prefix, int64_t groups, int64_t channels, double eps);
  GroupNorm(at::Tensor weight, at::Tensor bias, int64_t groups, double eps);

  at::Tensor forward(const at::Tensor& x) const;

 private:
  at::Tensor weight_, bias_;
  int64_t groups_ = 1;
  double eps_ = 1e-5;
};

// nn.LayerNorm(dim, eps) over the last dimension, with affine weight and bias.
class LayerNorm {
 public:
  static LayerNorm load(StateDict& weights, const std::string& prefix, int64_t dim, double eps);
  LayerNorm(at::Tensor weight, at::Tensor bias, double eps);

  at::Tensor forward(const at::Tensor& x) const;

 private:
  at::Tensor weight_, bias_;
  double eps_ = 1e-5;
};

}  // namespace dmx::sd
