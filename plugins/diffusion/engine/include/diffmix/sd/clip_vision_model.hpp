// CLIP's vision tower (transformers' CLIPVisionModel): patch embedding + class token + positions, a LayerNorm, the
// transformer (no causal mask), and the class token's final state through post_layernorm as the pooled output.
#pragma once

#include "diffmix/sd/clip_encoder.hpp"
#include "diffmix/sd/config_file.hpp"
#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/state_dict.hpp"

#include <ATen/ATen.h>

#include <optional>
#include <string>

namespace dmx::sd {

struct CLIPVisionConfig {
  CLIPEncoderShape encoder;
  int64_t image_size = 224;
  int64_t patch_size = 32;
  int64_t num_channels = 3;

  // A CLIPVisionConfig (the vision_config section of a CLIPModel config), with transformers' defaults.
  static CLIPVisionConfig read(const ConfigFile& config);
  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};

struct CLIPVisionOutput {
  at::Tensor last_hidden_state;  // [B, 1 + patches, hidden], encoder output (no post_layernorm)
  at::Tensor pooler_output;      // [B, hidden] = post_layernorm(class token)
};

class CLIPVisionModel {
 public:
  // From weights "<prefix>.embeddings...", "<prefix>.pre_layrnorm..." (transformers' spelling), "<prefix>.encoder...",
  // "<prefix>.post_layernorm..."; prefix "vision_model".
  static CLIPVisionModel load(StateDict& weights, const std::string& prefix, const CLIPVisionConfig& config);

  // pixel_values [B, num_channels, image_size, image_size], normalised as CLIPImageProcessor does.
  CLIPVisionOutput forward(const at::Tensor& pixel_values) const;
  const CLIPVisionConfig& config() const { return config_; }

 private:
  CLIPVisionConfig config_;
  at::Tensor class_embedding_, position_embedding_;
  std::optional<Conv2d> patch_embedding_;
  std::optional<LayerNorm> pre_layrnorm_, post_layernorm_;
  std::optional<CLIPEncoder> encoder_;
};

}  // namespace dmx::sd
