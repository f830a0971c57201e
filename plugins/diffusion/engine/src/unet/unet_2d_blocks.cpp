#include "diffmix/sd/unet_2d_blocks.hpp"

namespace dmx::sd {

namespace {

ResnetBlockShape resnet_shape(int64_t in_channels, int64_t out_channels, const UNetBlockSettings& settings,
                              double output_scale_factor) {
  return {in_channels, out_channels, settings.temb_channels, settings.norm_groups, settings.norm_eps,
          output_scale_factor};
}

// Diffusers' convention for these blocks: `heads` heads of size channels / heads.
Transformer2DShape transformer_shape(int64_t channels, const UNetBlockSettings& settings) {
  return {channels,
          settings.heads,
          channels / settings.heads,
          settings.transformer_layers,
          settings.cross_attention_dim,
          settings.norm_groups,
          settings.use_linear_projection};
}

void visit_transformers(std::vector<Transformer2DModel>& attentions,
                        const std::function<void(const std::string&, Linear&)>& visit) {
  for (size_t i = 0; i < attentions.size(); ++i) {
    const std::string prefix = "attentions." + std::to_string(i) + ".";
    attentions[i].for_each_projection([&](const std::string& name, Linear& layer) { visit(prefix + name, layer); });
  }
}

}  // namespace

UNetDownBlock UNetDownBlock::load(StateDict& weights, const std::string& prefix, const UNetDownBlockShape& shape,
                                  const UNetBlockSettings& settings) {
  UNetDownBlock block;
  for (int64_t i = 0; i < shape.layers; ++i) {
    const int64_t in_channels = i == 0 ? shape.in_channels : shape.out_channels;
    block.resnets_.push_back(ResnetBlock2D::load(weights, child_name(prefix, "resnets", i),
                                                 resnet_shape(in_channels, shape.out_channels, settings,
                                                              settings.resnet_output_scale_factor)));
    if (shape.cross_attention) {
      block.attentions_.push_back(Transformer2DModel::load(weights, child_name(prefix, "attentions", i),
                                                           transformer_shape(shape.out_channels, settings)));
    }
  }
  if (shape.add_downsample) {
    block.downsampler_ =
        Downsample2D::load(weights, prefix + ".downsamplers.0", shape.out_channels, shape.downsample_padding);
  }
  return block;
}

at::Tensor UNetDownBlock::forward(at::Tensor x, const at::Tensor& temb, const at::Tensor& encoder_hidden_states,
                                  std::vector<at::Tensor>& skips) const {
  for (size_t i = 0; i < resnets_.size(); ++i) {
    x = resnets_[i].forward(x, temb);
    if (!attentions_.empty()) x = attentions_[i].forward(x, encoder_hidden_states);
    skips.push_back(x);
  }
  if (downsampler_) {
    x = downsampler_->forward(x);
    skips.push_back(x);
  }
  return x;
}

void UNetDownBlock::for_each_projection(const std::function<void(const std::string&, Linear&)>& visit) {
  visit_transformers(attentions_, visit);
}

UNetMidBlock2DCrossAttn UNetMidBlock2DCrossAttn::load(StateDict& weights, const std::string& prefix,
                                                      int64_t channels, double output_scale_factor,
                                                      const UNetBlockSettings& settings) {
  // diffusers' UNetMidBlock2DCrossAttn has num_layers = 1 in every UNet2DConditionModel: one transformer between two
  // resnets (transformer_layers_per_block sets the depth inside that transformer).
  const auto shape = resnet_shape(channels, channels, settings, output_scale_factor);
  UNetMidBlock2DCrossAttn block;
  block.resnets_.push_back(ResnetBlock2D::load(weights, prefix + ".resnets.0", shape));
  block.attentions_.push_back(
      Transformer2DModel::load(weights, prefix + ".attentions.0", transformer_shape(channels, settings)));
  block.resnets_.push_back(ResnetBlock2D::load(weights, prefix + ".resnets.1", shape));
  return block;
}

at::Tensor UNetMidBlock2DCrossAttn::forward(at::Tensor x, const at::Tensor& temb,
                                            const at::Tensor& encoder_hidden_states) const {
  x = resnets_[0].forward(x, temb);
  for (size_t i = 0; i < attentions_.size(); ++i) {
    x = attentions_[i].forward(x, encoder_hidden_states);
    x = resnets_[i + 1].forward(x, temb);
  }
  return x;
}

void UNetMidBlock2DCrossAttn::for_each_projection(const std::function<void(const std::string&, Linear&)>& visit) {
  visit_transformers(attentions_, visit);
}

UNetUpBlock UNetUpBlock::load(StateDict& weights, const std::string& prefix, const UNetUpBlockShape& shape,
                              const UNetBlockSettings& settings) {
  UNetUpBlock block;
  for (int64_t i = 0; i < shape.layers; ++i) {
    // Each resnet takes the running features concatenated with one skip connection: the last resnet gets the skip
    // from before the matching down block (in_channels), the others skips of this level (out_channels).
    const int64_t skip_channels = i == shape.layers - 1 ? shape.in_channels : shape.out_channels;
    const int64_t running_channels = i == 0 ? shape.prev_output_channels : shape.out_channels;
    block.resnets_.push_back(ResnetBlock2D::load(weights, child_name(prefix, "resnets", i),
                                                 resnet_shape(running_channels + skip_channels, shape.out_channels,
                                                              settings, settings.resnet_output_scale_factor)));
    if (shape.cross_attention) {
      block.attentions_.push_back(Transformer2DModel::load(weights, child_name(prefix, "attentions", i),
                                                           transformer_shape(shape.out_channels, settings)));
    }
  }
  if (shape.add_upsample) block.upsampler_ = Upsample2D::load(weights, prefix + ".upsamplers.0", shape.out_channels);
  return block;
}

at::Tensor UNetUpBlock::forward(at::Tensor x, const at::Tensor& temb, const at::Tensor& encoder_hidden_states,
                                std::vector<at::Tensor>& skips, at::IntArrayRef upsample_size) const {
  for (size_t i = 0; i < resnets_.size(); ++i) {
    x = at::cat({x, skips.back()}, 1);
    skips.pop_back();
    x = resnets_[i].forward(x, temb);
    if (!attentions_.empty()) x = attentions_[i].forward(x, encoder_hidden_states);
  }
  if (upsampler_) x = upsampler_->forward(x, upsample_size);
  return x;
}

void UNetUpBlock::for_each_projection(const std::function<void(const std::string&, Linear&)>& visit) {
  visit_transformers(attentions_, visit);
}

}  // namespace dmx::sd
