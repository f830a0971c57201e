// The settings of one from-scratch pretraining run of a small Stable Diffusion 1.x model, read from a TOML config:
//
//   output = "models/fmnist-sd"          # the diffusers folder written at the end
//   work_dir = "runs/fmnist-pretrain"    # checkpoint and the model being trained (default: <output>-work)
//   seed = 0
//   [data]          kind, root, split (must be "train"), metaclass, shots, seed, skip_bad_entries   (as `diffmix train`)
//   [pretrain]      resolution, batch_size, caption_dropout, checkpoint_every, max_grad_norm, weight_decay,
//                   adam_beta1, adam_beta2, adam_epsilon
//   [vae]           steps, learning_rate, kl_weight, block_out_channels, layers_per_block, norm_num_groups
//   [unet]          steps, learning_rate, block_out_channels, layers_per_block, attention_heads, norm_num_groups
//   [vae_decoder]   steps, learning_rate
//   [text_encoder]  hidden_size, intermediate_size, layers, heads, max_length
//
// The VAE trains first, then the UNet on the trained VAE's latents, then (when [vae_decoder] steps > 0) the VAE's
// decoder alone with the encoder frozen, so that the UNet's latents stay valid; the text encoder keeps its random
// weights.
#pragma once

#include "diffmix/config.hpp"
#include "diffmix/data/datasets.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace dmx::pretrain {

// CLIPTextModel (frozen at its random initialisation, as SD's CLIP is frozen).
struct TextEncoderShape {
  int64_t hidden_size = 64;
  int64_t intermediate_size = 256;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t max_length = 77;  // tokenizer model_max_length = max_position_embeddings
};

// AutoencoderKL with DownEncoderBlock2D / UpDecoderBlock2D blocks; images shrink by 2^(blocks - 1).
struct VaeShape {
  std::vector<int64_t> block_out_channels{32, 64, 64};
  int64_t layers_per_block = 1;
  int64_t latent_channels = 4;  // SD 1.x
  int64_t norm_num_groups = 32;
};

// UNet2DConditionModel: CrossAttnDownBlock2D for all but the last block (a DownBlock2D), mirrored going up.
struct UNetShape {
  std::vector<int64_t> block_out_channels{64, 128};
  int64_t layers_per_block = 1;
  int64_t attention_heads = 4;  // diffusers' `attention_head_dim` (SD 1.x configs store the head count there)
  int64_t norm_num_groups = 32;
};

struct Architecture {
  TextEncoderShape text_encoder;
  VaeShape vae;
  UNetShape unet;
  int64_t resolution = 32;  // training images are resolution × resolution pixels

  int64_t latent_size() const;  // resolution / the VAE's downsampling factor
  // One line naming every size: a checkpoint fits only a run with the same architecture.
  std::string signature() const;
};

struct PhaseSettings {
  int64_t steps = 0;
  double learning_rate = 0.0;
};

struct PretrainSettings {
  int64_t batch_size = 64;
  double caption_dropout = 0.1;  // share of empty captions, so that classifier-free guidance has an unconditional model
  int64_t checkpoint_every = 250;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  double weight_decay = 1e-2;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  PhaseSettings vae{1500, 1e-3};
  double kl_weight = 1e-6;  // SD's VAE: a nearly plain autoencoder with a slightly regularised latent
  PhaseSettings unet{4000, 5e-4};
  // Decoder-only fine-tuning after the UNet (Stable Diffusion's ft-EMA/ft-MSE VAEs were made the same way): the
  // encoder, hence every latent, stays as the UNet learnt it; only the images decoded from them get sharper.
  PhaseSettings vae_decoder{0, 1e-4};
};

struct PretrainConfig {
  std::string source;  // the config file, for messages
  std::string output_dir = "models/pretrained-sd";
  std::string work_dir;  // checkpoint.safetensors and model/ (the model in training)
  uint64_t seed = 0;
  data::DatasetSpec data;
  Architecture architecture;
  PretrainSettings train;
};

// Reads the keys above from the root table; the caller calls root.finish() afterwards. A value out of range or a
// size the architecture cannot use (channels not a multiple of the group count, a resolution the VAE cannot halve)
// is a Config error with file:line:column.
PretrainConfig read_pretrain_config(const config::Table& root);

}  // namespace dmx::pretrain
