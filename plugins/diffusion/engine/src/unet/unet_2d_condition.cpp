#include "diffmix/sd/unet_2d_condition.hpp"

#include "component_config.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sd/state_dict.hpp"

#include <utility>

namespace dmx::sd {

UNet2DConditionModel::UNet2DConditionModel(UNet2DConditionConfig config, at::ScalarType dtype, at::Device device)
    : config_(std::move(config)), dtype_(dtype), device_(device) {}

namespace {

UNetBlockSettings block_settings(const UNet2DConditionConfig& config, size_t level) {
  UNetBlockSettings settings;
  settings.temb_channels = config.time_embed_dim();
  settings.norm_groups = config.norm_num_groups;
  settings.norm_eps = config.norm_eps;
  settings.resnet_output_scale_factor = config.resnet_out_scale_factor;
  settings.cross_attention_dim = config.cross_attention_dim.at(level);
  settings.heads = config.num_attention_heads.at(level);
  settings.transformer_layers = config.transformer_layers_per_block.at(level);
  settings.use_linear_projection = config.use_linear_projection;
  return settings;
}

bool has_cross_attention(const std::string& block_type) { return block_type.rfind("CrossAttn", 0) == 0; }

}  // namespace

UNet2DConditionModel UNet2DConditionModel::load(const std::string& folder, at::ScalarType dtype, at::Device device) {
  const auto component = open_component(folder, "unet");
  auto config = UNet2DConditionConfig::load(component.config_path());
  auto weights = StateDict::load(component.weights_path());
  weights.to(dtype, device);

  UNet2DConditionModel model(config, dtype, device);
  const auto& channels = config.block_out_channels;
  const size_t levels = channels.size();
  model.conv_in_ = Conv2d::load(weights, "conv_in", config.in_channels, channels[0], config.conv_in_kernel, 1,
                                (config.conv_in_kernel - 1) / 2);
  model.time_embedding_ = TimestepEmbedding::load(weights, "time_embedding", channels[0], config.time_embed_dim());

  int64_t block_in = channels[0];
  for (size_t i = 0; i < levels; ++i) {
    UNetDownBlockShape shape;
    shape.cross_attention = has_cross_attention(config.down_block_types[i]);
    shape.in_channels = block_in;
    shape.out_channels = channels[i];
    shape.layers = config.layers_per_block[i];
    shape.add_downsample = i + 1 < levels;
    shape.downsample_padding = config.downsample_padding;
    model.down_blocks_.push_back(UNetDownBlock::load(weights, "down_blocks." + std::to_string(i), shape,
                                                     block_settings(config, i)));
    block_in = channels[i];
  }

  model.mid_block_ = UNetMidBlock2DCrossAttn::load(weights, "mid_block", channels.back(),
                                                   config.mid_block_scale_factor, block_settings(config, levels - 1));

  // Up blocks walk the levels in reverse; each consumes layers_per_block + 1 skips of its level.
  int64_t prev_output = channels.back();
  for (size_t i = 0; i < levels; ++i) {
    const size_t level = levels - 1 - i;
    UNetUpBlockShape shape;
    shape.cross_attention = has_cross_attention(config.up_block_types[i]);
    shape.out_channels = channels[level];
    shape.in_channels = channels[level == 0 ? 0 : level - 1];
    shape.prev_output_channels = prev_output;
    shape.layers = config.layers_per_block[level] + 1;
    shape.add_upsample = i + 1 < levels;
    model.up_blocks_.push_back(UNetUpBlock::load(weights, "up_blocks." + std::to_string(i), shape,
                                                 block_settings(config, level)));
    prev_output = channels[level];
  }

  model.conv_norm_out_ =
      GroupNorm::load(weights, "conv_norm_out", config.norm_num_groups, channels[0], config.norm_eps);
  model.conv_out_ = Conv2d::load(weights, "conv_out", channels[0], config.out_channels, config.conv_out_kernel, 1,
                                 (config.conv_out_kernel - 1) / 2);
  weights.expect_all_taken();
  return model;
}

at::Tensor UNet2DConditionModel::broadcast_timestep(const at::Tensor& timestep, int64_t batch) const {
  if (timestep.dim() > 1 || (timestep.dim() == 1 && timestep.size(0) != 1 && timestep.size(0) != batch)) {
    throw dmx::shape_error("UNet2DConditionModel::forward: timestep must be 0-dim, [1] or [" + std::to_string(batch) +
                           "], got " + c10::str(timestep.sizes()));
  }
  return timestep.reshape({-1}).to(device_).expand({batch});
}

at::Tensor UNet2DConditionModel::forward(const at::Tensor& sample, const at::Tensor& timestep,
                                         const at::Tensor& encoder_hidden_states) const {
  if (sample.dim() != 4 || sample.size(1) != config_.in_channels) {
    throw dmx::shape_error("UNet2DConditionModel::forward: sample must be [B, " +
                           std::to_string(config_.in_channels) + ", H, W], got " + c10::str(sample.sizes()));
  }
  const int64_t batch = sample.size(0);
  const int64_t context_dim = config_.cross_attention_dim.front();
  if (encoder_hidden_states.dim() != 3 || encoder_hidden_states.size(0) != batch ||
      encoder_hidden_states.size(2) != context_dim) {
    throw dmx::shape_error("UNet2DConditionModel::forward: encoder_hidden_states must be [" + std::to_string(batch) +
                           ", L, " + std::to_string(context_dim) + "], got " + c10::str(encoder_hidden_states.sizes()));
  }
  auto x = sample.to(device_, dtype_);
  const auto context = encoder_hidden_states.to(device_, dtype_);
  if (config_.center_input_sample) x = x * 2.0 - 1.0;

  const auto time_features = timestep_embedding(broadcast_timestep(timestep, batch), config_.block_out_channels[0],
                                                config_.flip_sin_to_cos, config_.freq_shift);
  const auto temb = time_embedding_->forward(time_features.to(dtype_));

  x = conv_in_->forward(x);
  std::vector<at::Tensor> skips{x};
  for (const auto& block : down_blocks_) x = block.forward(x, temb, context, skips);
  x = mid_block_->forward(x, temb, context);
  for (const auto& block : up_blocks_) {
    // The upsampler restores the size of the next level's skips (which differs from 2x when a size was odd).
    const auto remaining = static_cast<int64_t>(skips.size()) - block.num_skips();
    std::vector<int64_t> upsample_size;
    if (remaining > 0) upsample_size = skips[remaining - 1].sizes().slice(2).vec();
    x = block.forward(x, temb, context, skips, upsample_size);
  }
  return conv_out_->forward(at::silu(conv_norm_out_->forward(x)));
}

void UNet2DConditionModel::for_each_attention_projection(
    const std::function<void(const std::string&, Linear&)>& visit) {
  const auto prefixed = [&](const std::string& prefix) {
    return [&visit, prefix](const std::string& name, Linear& layer) { visit(prefix + name, layer); };
  };
  for (size_t i = 0; i < down_blocks_.size(); ++i) {
    down_blocks_[i].for_each_projection(prefixed("down_blocks." + std::to_string(i) + "."));
  }
  mid_block_->for_each_projection(prefixed("mid_block."));
  for (size_t i = 0; i < up_blocks_.size(); ++i) {
    up_blocks_[i].for_each_projection(prefixed("up_blocks." + std::to_string(i) + "."));
  }
}

}  // namespace dmx::sd
