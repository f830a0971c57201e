// Attention layers, as diffusers' attention_processor.py (Attention with the scaled-dot-product processor) and
// attention.py (FeedForward with GEGLU, BasicTransformerBlock).
#pragma once

#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/state_dict.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace dmx::sd {

struct AttentionShape {
  int64_t query_dim = 0;
  int64_t context_dim = 0;  // 0: self-attention (keys and values come from the query input)
  int64_t heads = 1;
  int64_t head_dim = 0;
  bool qkv_bias = false;    // to_q/to_k/to_v biases (the VAE's attention has them, the UNet's do not)
  int64_t norm_groups = 0;  // >0: a GroupNorm named group_norm runs first (the VAE's mid-block attention)
  double norm_eps = 1e-5;
};

// Multi-head attention over token sequences [B, L, query_dim]: to_q/to_k/to_v, softmax(q kᵀ/√d) v per head, to_out.0.
class Attention {
 public:
  static Attention load(StateDict& weights, const std::string& prefix, const AttentionShape& shape);
  // context: [B, Lk, context_dim] for cross-attention, undefined for self-attention.
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& context = {}) const;
  // The VAE form: a feature map [B, C, H, W] in, attention over its H*W positions, residual added, same shape out.
  at::Tensor forward_spatial(const at::Tensor& x) const;

  // The four projections LoRA adapts, with their diffusers names relative to this attention ("to_q", ..., "to_out.0").
  void for_each_projection(const std::function<void(const std::string& name, Linear& layer)>& visit);

 private:
  Attention() = default;
  std::optional<GroupNorm> group_norm_;
  std::optional<Linear> to_q_, to_k_, to_v_, to_out_;
  int64_t heads_ = 1;
};

// ff.net.0 (GEGLU: a projection to 2x inner_dim, halves multiplied as a * gelu(b)) -> ff.net.2 (back to dim).
class FeedForward {
 public:
  static FeedForward load(StateDict& weights, const std::string& prefix, int64_t dim, int64_t inner_dim);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  FeedForward() = default;
  std::optional<Linear> geglu_proj_, out_;
};

// LayerNorm -> self-attention (attn1), LayerNorm -> cross-attention (attn2), LayerNorm -> GEGLU feed-forward, each
// added back to its input.
class BasicTransformerBlock {
 public:
  static BasicTransformerBlock load(StateDict& weights, const std::string& prefix, int64_t dim, int64_t heads,
                                    int64_t head_dim, int64_t cross_attention_dim);
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& encoder_hidden_states) const;

  // Every attention projection of this block, named relative to it ("attn1.to_q", ...).
  void for_each_projection(const std::function<void(const std::string& name, Linear& layer)>& visit);

 private:
  BasicTransformerBlock() = default;
  std::optional<LayerNorm> norm1_, norm2_, norm3_;
  std::optional<Attention> attn1_, attn2_;
  std::optional<FeedForward> ff_;
};

}  // namespace dmx::sd
