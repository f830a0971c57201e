// UNet2DConditionConfig::load: diffusers' UNet2DConditionModel config.json -> the numbers the engine builds from.
#include "component_config.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"

namespace dmx::sd {

namespace {

void require_block_types(const ConfigFile& config_file, const std::string& key, const std::vector<std::string>& types,
                         const std::string& plain, const std::string& cross_attention) {
  for (const auto& type : types) {
    if (type != plain && type != cross_attention) {
      throw dmx::unsupported(config_file.source() + ": key '" + key + "' has block type '" + type + "'; supported: '" +
                             plain + "', '" + cross_attention + "'");
    }
  }
}

void require_positive(const ConfigFile& config_file, const std::string& key, const std::vector<int64_t>& values) {
  for (const auto v : values) {
    if (v <= 0) throw dmx::config_error(config_file.source() + ": key '" + key + "' must hold positive integers");
  }
}

// Features of UNet2DConditionModel that SD 1.x/2.x checkpoints never use; a config that turns one on is refused
// rather than silently computed differently.
void require_sd_features(const ConfigFile& config_file) {
  require_default(config_file, "act_fn", "silu");
  require_default(config_file, "time_embedding_type", "positional");
  require_default(config_file, "time_embedding_dim", nullptr);
  require_default(config_file, "time_embedding_act_fn", nullptr);
  require_default(config_file, "timestep_post_act", nullptr);
  require_default(config_file, "time_cond_proj_dim", nullptr);
  require_default(config_file, "class_embed_type", nullptr);
  require_default(config_file, "num_class_embeds", nullptr);
  require_default(config_file, "addition_embed_type", nullptr);
  require_default(config_file, "encoder_hid_dim", nullptr);
  require_default(config_file, "encoder_hid_dim_type", nullptr);
  require_default(config_file, "resnet_time_scale_shift", "default");
  require_default(config_file, "resnet_skip_time_act", false);
  require_default(config_file, "only_cross_attention", false);
  require_default(config_file, "dual_cross_attention", false);
  require_default(config_file, "attention_type", "default");
  require_default(config_file, "cross_attention_norm", nullptr);
  require_default(config_file, "reverse_transformer_layers_per_block", nullptr);
  require_default(config_file, "mid_block_only_cross_attention", nullptr);
}

}  // namespace

UNet2DConditionConfig UNet2DConditionConfig::load(const std::string& config_path) {
  const auto config_file = ConfigFile::open(config_path);
  require_sd_features(config_file);

  UNet2DConditionConfig c;
  c.in_channels = config_file.integer("in_channels", 4);
  c.out_channels = config_file.integer("out_channels", 4);
  c.center_input_sample = config_file.boolean("center_input_sample", false);
  c.flip_sin_to_cos = config_file.boolean("flip_sin_to_cos", true);
  c.freq_shift = config_file.number("freq_shift", 0.0);
  c.block_out_channels = config_file.integers("block_out_channels");
  const size_t levels = c.block_out_channels.size();
  c.down_block_types = config_file.strings("down_block_types");
  c.up_block_types = config_file.strings("up_block_types");
  c.mid_block_type = config_file.string("mid_block_type", "UNetMidBlock2DCrossAttn");
  if (c.down_block_types.size() != levels || c.up_block_types.size() != levels) {
    throw dmx::config_error(config_path + ": 'down_block_types' and 'up_block_types' must have one entry per "
                            "'block_out_channels' entry (" + std::to_string(levels) + ")");
  }
  require_block_types(config_file, "down_block_types", c.down_block_types, "DownBlock2D", "CrossAttnDownBlock2D");
  require_block_types(config_file, "up_block_types", c.up_block_types, "UpBlock2D", "CrossAttnUpBlock2D");
  if (c.mid_block_type != "UNetMidBlock2DCrossAttn") {
    throw dmx::unsupported(config_path + ": key 'mid_block_type' = '" + c.mid_block_type +
                           "' is not supported (expected 'UNetMidBlock2DCrossAttn')");
  }

  c.layers_per_block = integers_per_block(config_file, "layers_per_block", levels, 2);
  c.downsample_padding = config_file.integer("downsample_padding", 1);
  c.mid_block_scale_factor = config_file.number("mid_block_scale_factor", 1.0);
  c.norm_num_groups = config_file.integer("norm_num_groups", 32);
  c.norm_eps = config_file.number("norm_eps", 1e-5);
  c.cross_attention_dim = integers_per_block(config_file, "cross_attention_dim", levels, 1280);
  c.transformer_layers_per_block = integers_per_block(config_file, "transformer_layers_per_block", levels, 1);
  // diffusers' legacy naming: `attention_head_dim` holds the number of heads unless `num_attention_heads` is set.
  c.num_attention_heads = config_file.has_value("num_attention_heads")
                              ? integers_per_block(config_file, "num_attention_heads", levels)
                              : integers_per_block(config_file, "attention_head_dim", levels, 8);
  c.use_linear_projection = config_file.boolean("use_linear_projection", false);
  c.resnet_out_scale_factor = config_file.number("resnet_out_scale_factor", 1.0);
  c.conv_in_kernel = config_file.integer("conv_in_kernel", 3);
  c.conv_out_kernel = config_file.integer("conv_out_kernel", 3);
  c.sample_size = config_file.integer("sample_size", 64);

  require_positive(config_file, "block_out_channels", c.block_out_channels);
  require_positive(config_file, "layers_per_block", c.layers_per_block);
  require_positive(config_file, "num_attention_heads", c.num_attention_heads);
  require_positive(config_file, "cross_attention_dim", c.cross_attention_dim);
  require_positive(config_file, "transformer_layers_per_block", c.transformer_layers_per_block);
  for (size_t i = 0; i < levels; ++i) {
    const int64_t channels = c.block_out_channels[i];
    if (c.norm_num_groups <= 0 || channels % c.norm_num_groups != 0) {
      throw dmx::config_error(config_path + ": 'norm_num_groups' (" + std::to_string(c.norm_num_groups) +
                              ") must divide every 'block_out_channels' entry (" + std::to_string(channels) + ")");
    }
    if (channels % c.num_attention_heads[i] != 0) {
      throw dmx::config_error(config_path + ": block " + std::to_string(i) + " has " + std::to_string(channels) +
                              " channels, not divisible by its " + std::to_string(c.num_attention_heads[i]) +
                              " attention heads ('attention_head_dim' / 'num_attention_heads')");
    }
  }
  if (c.conv_in_kernel % 2 == 0 || c.conv_out_kernel % 2 == 0) {
    throw dmx::config_error(config_path + ": 'conv_in_kernel' and 'conv_out_kernel' must be odd");
  }
  return c;
}

}  // namespace dmx::sd
