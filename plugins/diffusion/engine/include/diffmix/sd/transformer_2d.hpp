// Transformer2DModel (diffusers' transformer_2d.py, continuous input): a feature map is normalised, projected to
// tokens, run through BasicTransformerBlocks attending to the text embeddings, projected back and added to the input.
#pragma once

#include "diffmix/sd/attention.hpp"
#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/state_dict.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

struct Transformer2DShape {
  int64_t channels = 0;  // in = out channels
  int64_t heads = 1;
  int64_t head_dim = 0;  // inner dim = heads * head_dim
  int64_t layers = 1;
  int64_t cross_attention_dim = 0;
  int64_t norm_groups = 32;
  bool use_linear_projection = false;  // proj_in/proj_out: Linear (SD 2.x) or 1x1 Conv2d (SD 1.x)
};

class Transformer2DModel {
 public:
  static Transformer2DModel load(StateDict& weights, const std::string& prefix, const Transformer2DShape& shape);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& encoder_hidden_states) const;

  // Every attention projection, named relative to this model ("transformer_blocks.0.attn1.to_q", ...).
  void for_each_projection(const std::function<void(const std::string& name, Linear& layer)>& visit);

 private:
  Transformer2DModel() = default;
  std::optional<GroupNorm> norm_;
  std::optional<Conv2d> proj_in_conv_, proj_out_conv_;
  std::optional<Linear> proj_in_linear_, proj_out_linear_;
  std::vector<BasicTransformerBlock> blocks_;
};

}  // namespace dmx::sd
