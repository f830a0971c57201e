#include "diffmix/sd_pretrain/pretrain_config.hpp"

#include "diffmix/data/dataset_config.hpp"
#include "diffmix/error.hpp"

#include <sstream>

namespace dmx::pretrain {
namespace {

constexpr config::Range kPositive{1, 1e12};
constexpr config::Range kNonNegative{0, 1e12};
constexpr config::Range kChannels{1, 4096};

std::string join(const std::vector<int64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out;
}

// GroupNorm needs channels divisible by its group count: checked here so that the error points at the config.
void check_channels(const config::Table& table, const std::vector<int64_t>& channels, int64_t groups, size_t min_blocks) {
  if (channels.size() < min_blocks) {
    throw dmx::config_error(table.where("block_out_channels") + ": key 'block_out_channels' in [" + table.path() +
                            "] needs at least " + std::to_string(min_blocks) + " blocks, got [" + join(channels) + "]");
  }
  for (const auto c : channels) {
    if (c % groups != 0) {
      throw dmx::config_error(table.where("block_out_channels") + ": key 'block_out_channels' in [" + table.path() +
                              "] has " + std::to_string(c) + " channels, not a multiple of norm_num_groups " +
                              std::to_string(groups));
    }
  }
}

void read_text_encoder(const config::Table& table, TextEncoderShape& shape) {
  shape.hidden_size = table.integer("hidden_size", shape.hidden_size, {8, 4096});
  shape.intermediate_size = table.integer("intermediate_size", shape.intermediate_size, {1, 16384});
  shape.layers = table.integer("layers", shape.layers, {1, 48});
  shape.heads = table.integer("heads", shape.heads, {1, 64});
  shape.max_length = table.integer("max_length", shape.max_length, {8, 77});
  if (shape.hidden_size % shape.heads != 0) {
    throw dmx::config_error(table.where("heads") + ": key 'heads' in [text_encoder] is " + std::to_string(shape.heads) +
                            ", which does not divide hidden_size " + std::to_string(shape.hidden_size));
  }
}

void read_vae(const config::Table& table, VaeShape& shape, PretrainSettings& train) {
  train.vae.steps = table.integer("steps", train.vae.steps, kNonNegative);
  train.vae.learning_rate = table.number("learning_rate", train.vae.learning_rate, {0.0, 1.0});
  train.kl_weight = table.number("kl_weight", train.kl_weight, {0.0, 1.0});
  shape.norm_num_groups = table.integer("norm_num_groups", shape.norm_num_groups, {1, 1024});
  shape.layers_per_block = table.integer("layers_per_block", shape.layers_per_block, {1, 8});
  shape.block_out_channels = table.integer_list("block_out_channels", shape.block_out_channels, kChannels);
  check_channels(table, shape.block_out_channels, shape.norm_num_groups, 1);
}

void read_vae_decoder(const config::Table& table, PretrainSettings& train) {
  train.vae_decoder.steps = table.integer("steps", train.vae_decoder.steps, kNonNegative);
  train.vae_decoder.learning_rate = table.number("learning_rate", train.vae_decoder.learning_rate, {0.0, 1.0});
}

void read_unet(const config::Table& table, UNetShape& shape, PretrainSettings& train) {
  train.unet.steps = table.integer("steps", train.unet.steps, kNonNegative);
  train.unet.learning_rate = table.number("learning_rate", train.unet.learning_rate, {0.0, 1.0});
  shape.norm_num_groups = table.integer("norm_num_groups", shape.norm_num_groups, {1, 1024});
  shape.layers_per_block = table.integer("layers_per_block", shape.layers_per_block, {1, 8});
  shape.attention_heads = table.integer("attention_heads", shape.attention_heads, {1, 64});
  shape.block_out_channels = table.integer_list("block_out_channels", shape.block_out_channels, kChannels);
  // At least one cross-attention block: the text must reach the UNet.
  check_channels(table, shape.block_out_channels, shape.norm_num_groups, 2);
  for (const auto c : shape.block_out_channels) {
    if (c % shape.attention_heads != 0) {
      throw dmx::config_error(table.where("attention_heads") + ": key 'attention_heads' in [unet] is " +
                              std::to_string(shape.attention_heads) + ", which does not divide the " +
                              std::to_string(c) + " channels of a block");
    }
  }
}

void read_settings(const config::Table& table, PretrainSettings& train, Architecture& architecture) {
  architecture.resolution = table.integer("resolution", architecture.resolution, {8, 1024});
  train.batch_size = table.integer("batch_size", train.batch_size, kPositive);
  train.caption_dropout = table.number("caption_dropout", train.caption_dropout, {0.0, 1.0});
  train.checkpoint_every = table.integer("checkpoint_every", train.checkpoint_every, kPositive);
  train.max_grad_norm = table.number("max_grad_norm", train.max_grad_norm, {0.0, 1e6});
  train.weight_decay = table.number("weight_decay", train.weight_decay, {0.0, 1.0});
  train.adam_beta1 = table.number("adam_beta1", train.adam_beta1, {0.0, 0.999999});
  train.adam_beta2 = table.number("adam_beta2", train.adam_beta2, {0.0, 0.999999});
  train.adam_epsilon = table.number("adam_epsilon", train.adam_epsilon, {1e-20, 1.0});
}

}  // namespace

int64_t Architecture::latent_size() const {
  return resolution >> (static_cast<int64_t>(vae.block_out_channels.size()) - 1);
}

std::string Architecture::signature() const {
  std::ostringstream out;
  out << "resolution " << resolution << "; text_encoder " << text_encoder.hidden_size << "/"
      << text_encoder.intermediate_size << "/" << text_encoder.layers << "/" << text_encoder.heads << "/"
      << text_encoder.max_length << "; vae [" << join(vae.block_out_channels) << "] x" << vae.layers_per_block
      << " groups " << vae.norm_num_groups << "; unet [" << join(unet.block_out_channels) << "] x"
      << unet.layers_per_block << " heads " << unet.attention_heads << " groups " << unet.norm_num_groups;
  return out.str();
}

PretrainConfig read_pretrain_config(const config::Table& root) {
  PretrainConfig config;
  config.source = root.source();
  config.seed = static_cast<uint64_t>(root.integer("seed", 0, kNonNegative));
  config.output_dir = root.string("output", config.output_dir);
  config.work_dir = root.string("work_dir", config.output_dir + "-work");
  if (auto data = root.table("data")) {
    config.data = data::read_dataset_spec(*data);
    // Pretraining learns the images' distribution; a test split must stay unseen by every model built on it.
    if (config.data.split != "train") {
      throw dmx::config_error(data->where("split") + ": key 'split' in [data] is '" + config.data.split +
                              "'; pretraining reads only the training split ('train')");
    }
  }
  auto& arch = config.architecture;
  const auto pretrain = root.table("pretrain");
  if (pretrain) read_settings(*pretrain, config.train, arch);
  if (auto table = root.table("text_encoder")) read_text_encoder(*table, arch.text_encoder);
  if (auto table = root.table("vae")) read_vae(*table, arch.vae, config.train);
  if (auto table = root.table("unet")) read_unet(*table, arch.unet, config.train);
  if (auto table = root.table("vae_decoder")) read_vae_decoder(*table, config.train);
  const auto factor = int64_t{1} << (arch.vae.block_out_channels.size() - 1);
  if (arch.resolution % factor != 0 || arch.resolution / factor < 2) {
    const auto where = pretrain ? pretrain->where("resolution") : root.source();
    throw dmx::config_error(where + ": [pretrain] resolution " + std::to_string(arch.resolution) +
                            " must be a multiple of the VAE's downsampling factor " + std::to_string(factor) +
                            " (2^(blocks - 1)) giving latents of at least 2 x 2");
  }
  const auto unet_factor = int64_t{1} << (arch.unet.block_out_channels.size() - 1);
  if (arch.latent_size() % unet_factor != 0) {
    const auto unet = root.table("unet");
    const auto where = unet ? unet->where("block_out_channels") : root.source();
    throw dmx::config_error(where + ": [unet] block_out_channels has " +
                            std::to_string(arch.unet.block_out_channels.size()) + " blocks, which halve the " +
                            std::to_string(arch.latent_size()) + " x " + std::to_string(arch.latent_size()) +
                            " latents to a fraction");
  }
  return config;
}

}  // namespace dmx::pretrain
