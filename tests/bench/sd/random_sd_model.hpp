// A diffusers Stable Diffusion folder with random weights at any size, for benchmarks: the configs of a template
// folder (the tiny fixture model) with the size keys replaced, and every weight the loaders expect (names and
// shapes as diffusers / transformers save them) drawn at random.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dmx::bench {

struct SdSizes {
  std::string name;
  // UNet2DConditionModel: CrossAttnDownBlock2D for all but the last block (a DownBlock2D), mirrored going up.
  std::vector<int64_t> unet_channels;
  int64_t unet_layers_per_block = 2;
  int64_t unet_heads = 8;
  int64_t cross_attention_dim = 768;
  int64_t latent_size = 64;
  // AutoencoderKL.
  std::vector<int64_t> vae_channels;
  int64_t vae_layers_per_block = 2;
  // CLIPTextModel.
  int64_t text_hidden = 768;
  int64_t text_intermediate = 3072;
  int64_t text_layers = 12;
  int64_t text_heads = 12;
  int64_t text_vocab = 49408;
};

// Stable Diffusion 1.5's architecture (860M-parameter UNet, 84M VAE, CLIP ViT-L/14 text tower).
SdSizes sd15_sizes();

// Writes (or reuses, when a previous run completed it) `folder` from `template_folder`'s model_index.json,
// scheduler/ and the sizes given, and its tokenizer grown to the text encoder's vocabulary size. Returns `folder`.
std::string write_random_sd_folder(const SdSizes& sizes, const std::string& template_folder, const std::string& folder);

}  // namespace dmx::bench
