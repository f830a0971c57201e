#include "diffmix/sd/autoencoder_kl.hpp"

#include "../unet/component_config.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sd/state_dict.hpp"

#include <utility>

namespace dmx::sd {

AutoencoderKLConfig AutoencoderKLConfig::load(const std::string& config_path) {
  const auto config_file = ConfigFile::open(config_path);
  require_default(config_file, "act_fn", "silu");
  require_default(config_file, "norm_type", "group");
  require_default(config_file, "mid_block_add_attention", true);
  require_default(config_file, "use_quant_conv", true);
  require_default(config_file, "use_post_quant_conv", true);

  AutoencoderKLConfig c;
  c.in_channels = config_file.integer("in_channels", 3);
  c.out_channels = config_file.integer("out_channels", 3);
  c.block_out_channels = config_file.integers("block_out_channels");
  c.down_block_types = config_file.strings("down_block_types");
  c.up_block_types = config_file.strings("up_block_types");
  c.layers_per_block = config_file.integer("layers_per_block", 1);
  c.latent_channels = config_file.integer("latent_channels", 4);
  c.norm_num_groups = config_file.integer("norm_num_groups", 32);
  c.sample_size = config_file.integer("sample_size", 32);
  c.scaling_factor = config_file.number("scaling_factor", 0.18215);

  const size_t levels = c.block_out_channels.size();
  if (c.down_block_types.size() != levels || c.up_block_types.size() != levels) {
    throw dmx::config_error(config_path + ": 'down_block_types' and 'up_block_types' must have one entry per "
                            "'block_out_channels' entry (" + std::to_string(levels) + ")");
  }
  for (const auto& type : c.down_block_types) {
    if (type != "DownEncoderBlock2D") {
      throw dmx::unsupported(config_path + ": key 'down_block_types' has '" + type + "'; supported: 'DownEncoderBlock2D'");
    }
  }
  for (const auto& type : c.up_block_types) {
    if (type != "UpDecoderBlock2D") {
      throw dmx::unsupported(config_path + ": key 'up_block_types' has '" + type + "'; supported: 'UpDecoderBlock2D'");
    }
  }
  for (const auto channels : c.block_out_channels) {
    if (channels <= 0 || c.norm_num_groups <= 0 || channels % c.norm_num_groups != 0) {
      throw dmx::config_error(config_path + ": 'norm_num_groups' (" + std::to_string(c.norm_num_groups) +
                              ") must divide every positive 'block_out_channels' entry (got " +
                              std::to_string(channels) + ")");
    }
  }
  if (c.layers_per_block <= 0 || c.latent_channels <= 0 || c.in_channels <= 0 || c.out_channels <= 0) {
    throw dmx::config_error(config_path +
                            ": 'layers_per_block', 'latent_channels', 'in_channels' and 'out_channels' must be positive");
  }
  return c;
}

DiagonalGaussian::DiagonalGaussian(const at::Tensor& moments) {
  if (moments.dim() != 4 || moments.size(1) % 2 != 0) {
    throw dmx::shape_error("DiagonalGaussian: moments must be [B, 2*C, h, w], got " + c10::str(moments.sizes()));
  }
  const auto halves = moments.chunk(2, 1);
  mean_ = halves[0];
  logvar_ = halves[1].clamp(-30.0, 20.0);
  std_ = at::exp(0.5 * logvar_);
}

at::Tensor DiagonalGaussian::sample(const at::Tensor& noise) const {
  if (!noise.sizes().equals(mean_.sizes())) {
    throw dmx::shape_error("DiagonalGaussian::sample: noise must have the posterior's shape " +
                           c10::str(mean_.sizes()) + ", got " + c10::str(noise.sizes()));
  }
  return mean_ + std_ * noise.to(mean_.device(), mean_.scalar_type());
}

AutoencoderKL::AutoencoderKL(AutoencoderKLConfig config, at::ScalarType dtype, at::Device device)
    : config_(std::move(config)), dtype_(dtype), device_(device) {}

AutoencoderKL AutoencoderKL::load(const std::string& folder, at::ScalarType dtype, at::Device device) {
  const auto component = open_component(folder, "vae");
  auto config = AutoencoderKLConfig::load(component.config_path());
  auto weights = StateDict::load(component.weights_path());
  weights.to(dtype, device);

  AutoencoderKL vae(config, dtype, device);
  const int64_t moments = 2 * config.latent_channels;
  vae.encoder_ = Encoder::load(
      weights, "encoder",
      {config.in_channels, moments, config.block_out_channels, config.layers_per_block, config.norm_num_groups});
  vae.quant_conv_ = Conv2d::load(weights, "quant_conv", moments, moments, 1, 1, 0);
  vae.post_quant_conv_ =
      Conv2d::load(weights, "post_quant_conv", config.latent_channels, config.latent_channels, 1, 1, 0);
  vae.decoder_ = Decoder::load(weights, "decoder",
                               {config.latent_channels, config.out_channels, config.block_out_channels,
                                config.layers_per_block, config.norm_num_groups});
  weights.expect_all_taken();
  return vae;
}

DiagonalGaussian AutoencoderKL::encode(const at::Tensor& images) const {
  if (images.dim() != 4 || images.size(1) != config_.in_channels) {
    throw dmx::shape_error("AutoencoderKL::encode: images must be [B, " + std::to_string(config_.in_channels) +
                           ", H, W], got " + c10::str(images.sizes()));
  }
  const auto h = encoder_->forward(images.to(device_, dtype_));
  return DiagonalGaussian(quant_conv_->forward(h));
}

at::Tensor AutoencoderKL::decode(const at::Tensor& latents) const {
  if (latents.dim() != 4 || latents.size(1) != config_.latent_channels) {
    throw dmx::shape_error("AutoencoderKL::decode: latents must be [B, " + std::to_string(config_.latent_channels) +
                           ", h, w], got " + c10::str(latents.sizes()));
  }
  return decoder_->forward(post_quant_conv_->forward(latents.to(device_, dtype_)));
}

}  // namespace dmx::sd
