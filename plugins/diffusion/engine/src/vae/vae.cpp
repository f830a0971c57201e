#include "diffmix/sd/vae.hpp"

namespace dmx::sd {

namespace {

// diffusers builds every VAE norm with eps 1e-6.
constexpr double kVaeNormEps = 1e-6;

ResnetBlock2D load_resnet(StateDict& weights, const std::string& prefix, int64_t in_channels, int64_t out_channels,
                          int64_t norm_groups) {
  return ResnetBlock2D::load(weights, prefix, {in_channels, out_channels, 0, norm_groups, kVaeNormEps, 1.0});
}

}  // namespace

UNetMidBlock2D UNetMidBlock2D::load(StateDict& weights, const std::string& prefix, int64_t channels,
                                    int64_t norm_groups) {
  UNetMidBlock2D block;
  block.resnets_.push_back(load_resnet(weights, prefix + ".resnets.0", channels, channels, norm_groups));
  // One head spanning all channels (the VAE config's attention_head_dim defaults to the channel count), with q/k/v
  // biases and its own GroupNorm.
  AttentionShape shape;
  shape.query_dim = channels;
  shape.heads = 1;
  shape.head_dim = channels;
  shape.qkv_bias = true;
  shape.norm_groups = norm_groups;
  shape.norm_eps = kVaeNormEps;
  block.attention_ = Attention::load(weights, prefix + ".attentions.0", shape);
  block.resnets_.push_back(load_resnet(weights, prefix + ".resnets.1", channels, channels, norm_groups));
  return block;
}

at::Tensor UNetMidBlock2D::forward(const at::Tensor& x) const {
  const at::Tensor no_temb;
  auto h = resnets_[0].forward(x, no_temb);
  h = attention_->forward_spatial(h);
  return resnets_[1].forward(h, no_temb);
}

Encoder Encoder::load(StateDict& weights, const std::string& prefix, const VaeCoderShape& shape) {
  const auto& channels = shape.block_out_channels;
  Encoder encoder;
  encoder.conv_in_ = Conv2d::load(weights, prefix + ".conv_in", shape.in_channels, channels.front(), 3, 1, 1);
  int64_t block_in = channels.front();
  for (size_t i = 0; i < channels.size(); ++i) {
    const std::string block_prefix = child_name(prefix, "down_blocks", i);
    DownEncoderBlock2D block;
    for (int64_t r = 0; r < shape.layers_per_block; ++r) {
      block.resnets.push_back(load_resnet(weights, child_name(block_prefix, "resnets", r), r == 0 ? block_in : channels[i],
                                          channels[i], shape.norm_groups));
    }
    // Every block but the last halves the resolution; padding 0 means diffusers' asymmetric (bottom/right) padding.
    if (i + 1 < channels.size()) {
      block.downsampler = Downsample2D::load(weights, block_prefix + ".downsamplers.0", channels[i], 0);
    }
    encoder.down_blocks_.push_back(std::move(block));
    block_in = channels[i];
  }
  encoder.mid_block_ = UNetMidBlock2D::load(weights, prefix + ".mid_block", channels.back(), shape.norm_groups);
  encoder.conv_norm_out_ =
      GroupNorm::load(weights, prefix + ".conv_norm_out", shape.norm_groups, channels.back(), kVaeNormEps);
  encoder.conv_out_ = Conv2d::load(weights, prefix + ".conv_out", channels.back(), shape.out_channels, 3, 1, 1);
  return encoder;
}

at::Tensor Encoder::forward(const at::Tensor& image) const {
  const at::Tensor no_temb;
  auto h = conv_in_->forward(image);
  for (const auto& block : down_blocks_) {
    for (const auto& resnet : block.resnets) h = resnet.forward(h, no_temb);
    if (block.downsampler) h = block.downsampler->forward(h);
  }
  h = mid_block_->forward(h);
  return conv_out_->forward(at::silu(conv_norm_out_->forward(h)));
}

Decoder Decoder::load(StateDict& weights, const std::string& prefix, const VaeCoderShape& shape) {
  const std::vector<int64_t> channels(shape.block_out_channels.rbegin(), shape.block_out_channels.rend());
  Decoder decoder;
  decoder.conv_in_ = Conv2d::load(weights, prefix + ".conv_in", shape.in_channels, channels.front(), 3, 1, 1);
  decoder.mid_block_ = UNetMidBlock2D::load(weights, prefix + ".mid_block", channels.front(), shape.norm_groups);
  int64_t block_in = channels.front();
  for (size_t i = 0; i < channels.size(); ++i) {
    const std::string block_prefix = child_name(prefix, "up_blocks", i);
    UpDecoderBlock2D block;
    // One resnet more than the encoder has per level, as in diffusers.
    for (int64_t r = 0; r < shape.layers_per_block + 1; ++r) {
      block.resnets.push_back(load_resnet(weights, child_name(block_prefix, "resnets", r), r == 0 ? block_in : channels[i],
                                          channels[i], shape.norm_groups));
    }
    if (i + 1 < channels.size()) block.upsampler = Upsample2D::load(weights, block_prefix + ".upsamplers.0", channels[i]);
    decoder.up_blocks_.push_back(std::move(block));
    block_in = channels[i];
  }
  decoder.conv_norm_out_ =
      GroupNorm::load(weights, prefix + ".conv_norm_out", shape.norm_groups, channels.back(), kVaeNormEps);
  decoder.conv_out_ = Conv2d::load(weights, prefix + ".conv_out", channels.back(), shape.out_channels, 3, 1, 1);
  return decoder;
}

at::Tensor Decoder::forward(const at::Tensor& latents) const {
  const at::Tensor no_temb;
  auto h = mid_block_->forward(conv_in_->forward(latents));
  for (const auto& block : up_blocks_) {
    for (const auto& resnet : block.resnets) h = resnet.forward(h, no_temb);
    if (block.upsampler) h = block.upsampler->forward(h);
  }
  return conv_out_->forward(at::silu(conv_norm_out_->forward(h)));
}

}  // namespace dmx::sd
