// The transformer stack shared by CLIP's text and vision towers (transformers' CLIPEncoder): pre-norm layers of
// multi-head self-attention and an MLP, each added to its input.
#pragma once

#include "diffmix/sd/config_file.hpp"
#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/state_dict.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

enum class CLIPActivation { QuickGelu, Gelu };

// The sizes of one tower, from a CLIPTextConfig / CLIPVisionConfig (transformers' defaults for absent keys are
// given by the caller, since the two towers default differently).
struct CLIPEncoderShape {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_attention_heads = 0;
  int64_t num_hidden_layers = 0;
  CLIPActivation activation = CLIPActivation::QuickGelu;
  double layer_norm_eps = 1e-5;

  // Reads hidden_act / layer_norm_eps and the four sizes, using `defaults` for keys that are absent.
  static CLIPEncoderShape read(const ConfigFile& config, const CLIPEncoderShape& defaults);
};

class CLIPEncoderLayer {
 public:
  static CLIPEncoderLayer load(StateDict& weights, const std::string& prefix, const CLIPEncoderShape& shape);
  // `allowed`: a boolean mask broadcastable to [B, heads, L, L] (true = may attend), or undefined for full attention.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& allowed) const;

 private:
  at::Tensor self_attention(const at::Tensor& x, const at::Tensor& allowed) const;

  std::optional<LayerNorm> layer_norm1_, layer_norm2_;
  std::optional<Linear> q_proj_, k_proj_, v_proj_, out_proj_, fc1_, fc2_;
  int64_t heads_ = 1;
  CLIPActivation activation_ = CLIPActivation::QuickGelu;
};

class CLIPEncoder {
 public:
  // Layers "<prefix>.layers.<i>" for i < shape.num_hidden_layers.
  static CLIPEncoder load(StateDict& weights, const std::string& prefix, const CLIPEncoderShape& shape);

  // Runs the first `layers` layers (all when negative). With `hidden_states`, appends the input and the output of
  // every layer run, as transformers' output_hidden_states.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& allowed, int64_t layers = -1,
                     std::vector<at::Tensor>* hidden_states = nullptr) const;
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }

 private:
  std::vector<CLIPEncoderLayer> layers_;
};

}  // namespace dmx::sd
