// The UNet's stages, as diffusers' unet_2d_blocks.py. DownBlock2D and CrossAttnDownBlock2D differ only in whether a
// Transformer2DModel follows each resnet, so one class serves both (likewise for the up blocks).
#pragma once

#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/resnet.hpp"
#include "diffmix/sd/state_dict.hpp"
#include "diffmix/sd/transformer_2d.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

// What every block of one UNet shares, from its config.json.
struct UNetBlockSettings {
  int64_t temb_channels = 0;
  int64_t norm_groups = 32;
  double norm_eps = 1e-5;
  double resnet_output_scale_factor = 1.0;
  int64_t cross_attention_dim = 0;
  int64_t heads = 1;  // attention heads of this block's transformers (diffusers' legacy `attention_head_dim`)
  int64_t transformer_layers = 1;
  bool use_linear_projection = false;
};

struct UNetDownBlockShape {
  bool cross_attention = false;  // CrossAttnDownBlock2D (true) or DownBlock2D
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t layers = 0;
  bool add_downsample = false;
  int64_t downsample_padding = 1;
};

class UNetDownBlock {
 public:
  static UNetDownBlock load(StateDict& weights, const std::string& prefix, const UNetDownBlockShape& shape,
                            const UNetBlockSettings& settings);
  // Returns the block output; appends every skip connection (each resnet/transformer output, then the downsampled
  // output) to `skips`.
  at::Tensor forward(at::Tensor x, const at::Tensor& temb, const at::Tensor& encoder_hidden_states,
                     std::vector<at::Tensor>& skips) const;

  void for_each_projection(const std::function<void(const std::string& name, Linear& layer)>& visit);

 private:
  UNetDownBlock() = default;
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;  // empty for DownBlock2D
  std::optional<Downsample2D> downsampler_;
};

// resnets.0, then (attentions.i, resnets.i+1) for each transformer layer group.
class UNetMidBlock2DCrossAttn {
 public:
  static UNetMidBlock2DCrossAttn load(StateDict& weights, const std::string& prefix, int64_t channels,
                                      double output_scale_factor, const UNetBlockSettings& settings);
  at::Tensor forward(at::Tensor x, const at::Tensor& temb, const at::Tensor& encoder_hidden_states) const;

  void for_each_projection(const std::function<void(const std::string& name, Linear& layer)>& visit);

 private:
  UNetMidBlock2DCrossAttn() = default;
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
};

struct UNetUpBlockShape {
  bool cross_attention = false;  // CrossAttnUpBlock2D (true) or UpBlock2D
  int64_t in_channels = 0;           // channels of the deepest skip this block consumes (its last resnet)
  int64_t prev_output_channels = 0;  // channels coming from the block below
  int64_t out_channels = 0;
  int64_t layers = 0;  // layers_per_block + 1: one resnet per skip connection
  bool add_upsample = false;
};

class UNetUpBlock {
 public:
  static UNetUpBlock load(StateDict& weights, const std::string& prefix, const UNetUpBlockShape& shape,
                          const UNetBlockSettings& settings);
  int64_t num_skips() const { return static_cast<int64_t>(resnets_.size()); }
  // Pops one skip connection per resnet from the back of `skips`. upsample_size: [H, W] for the upsampler (the size of
  // the next skip), empty when this block does not upsample.
  at::Tensor forward(at::Tensor x, const at::Tensor& temb, const at::Tensor& encoder_hidden_states,
                     std::vector<at::Tensor>& skips, at::IntArrayRef upsample_size) const;

  void for_each_projection(const std::function<void(const std::string& name, Linear& layer)>& visit);

 private:
  UNetUpBlock() = default;
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;  // empty for UpBlock2D
  std::optional<Upsample2D> upsampler_;
};

}  // namespace dmx::sd
