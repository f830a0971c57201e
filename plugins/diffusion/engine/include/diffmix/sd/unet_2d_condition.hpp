// UNet2DConditionModel: the noise predictor of Stable Diffusion 1.x, as diffusers' unet_2d_condition.py.
//
//   auto unet = dmx::sd::UNet2DConditionModel::load("sd15/unet", at::kHalf, at::Device("cuda"));
//   at::Tensor eps = unet.forward(latents, timestep, text_embeddings);
//
// The architecture comes from the folder's config.json; the weights keep diffusers' parameter names.
// forward() sets no grad mode itself: inference callers wrap it in c10::InferenceMode (the pipelines do), and LoRA
// fine-tuning runs it with autograd recording through the adapters.
#pragma once

#include "diffmix/sd/embeddings.hpp"
#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/unet_2d_blocks.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

// The config.json keys this engine reads. Per-block keys that diffusers accepts as a number or a list are expanded
// to one entry per down block.
struct UNet2DConditionConfig {
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  bool center_input_sample = false;
  bool flip_sin_to_cos = true;
  double freq_shift = 0.0;
  std::vector<std::string> down_block_types;
  std::string mid_block_type = "UNetMidBlock2DCrossAttn";
  std::vector<std::string> up_block_types;
  std::vector<int64_t> block_out_channels;
  std::vector<int64_t> layers_per_block;
  int64_t downsample_padding = 1;
  double mid_block_scale_factor = 1.0;
  int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  std::vector<int64_t> cross_attention_dim;
  std::vector<int64_t> transformer_layers_per_block;
  std::vector<int64_t> num_attention_heads;  // `num_attention_heads`, else the legacy `attention_head_dim`
  bool use_linear_projection = false;
  double resnet_out_scale_factor = 1.0;
  int64_t conv_in_kernel = 3;
  int64_t conv_out_kernel = 3;
  int64_t sample_size = 64;

  // Reads `<unet folder>/config.json`; a missing or wrong-typed key, or a feature this engine does not implement
  // (class embeddings, SDXL add-embeddings, ...), is a dmx::Error naming the file and the key.
  static UNet2DConditionConfig load(const std::string& config_path);

  int64_t time_embed_dim() const { return block_out_channels.at(0) * 4; }
};

class UNet2DConditionModel {
 public:
  // `folder` is a diffusers pipeline folder (its unet/ is used) or the unet component folder itself. Weights are
  // converted to `dtype` and moved to `device`; every weight must be present, used and of the expected shape.
  static UNet2DConditionModel load(const std::string& folder, at::ScalarType dtype = at::kFloat,
                                   at::Device device = at::kCPU);

  // sample [B, in_channels, H, W]; timestep: 0-dim, [1] or [B], integer or floating; encoder_hidden_states
  // [B, L, cross_attention_dim]. Returns the predicted noise [B, out_channels, H, W] in the weights' dtype.
  at::Tensor forward(const at::Tensor& sample, const at::Tensor& timestep,
                     const at::Tensor& encoder_hidden_states) const;

  const UNet2DConditionConfig& config() const { return config_; }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }

  // Calls `visit` for every attention projection (to_q, to_k, to_v, to_out.0 of attn1 and attn2) with its full
  // diffusers module path, e.g. "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q". LoRA attaches here.
  void for_each_attention_projection(const std::function<void(const std::string& path, Linear& layer)>& visit);

 private:
  UNet2DConditionModel(UNet2DConditionConfig config, at::ScalarType dtype, at::Device device);
  at::Tensor broadcast_timestep(const at::Tensor& timestep, int64_t batch) const;

  UNet2DConditionConfig config_;
  at::ScalarType dtype_;
  at::Device device_;
  std::optional<Conv2d> conv_in_;
  std::optional<TimestepEmbedding> time_embedding_;
  std::vector<UNetDownBlock> down_blocks_;
  std::optional<UNetMidBlock2DCrossAttn> mid_block_;
  std::vector<UNetUpBlock> up_blocks_;
  std::optional<GroupNorm> conv_norm_out_;
  std::optional<Conv2d> conv_out_;
};

}  // namespace dmx::sd
