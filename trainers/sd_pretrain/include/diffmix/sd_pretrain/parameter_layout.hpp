// The parameters of each component, named and shaped as diffusers / transformers save them, with the initialisation
// a freshly constructed PyTorch module gets:
//
//   auto unet = initialize(unet_layout(architecture), generator);    // [("conv_in.weight", tensor), ...]
//
// - Linear and Conv2d weights: kaiming_uniform_(a=√5), i.e. U(±1/√fan_in), biases U(±1/√fan_in) (torch.nn's
//   reset_parameters). diffusers' UNet2DConditionModel and AutoencoderKL keep these defaults (no zero-init).
// - GroupNorm / LayerNorm: weight 1, bias 0.
// - CLIPTextModel: transformers' CLIPPreTrainedModel._init_weights with initializer_factor 1: embeddings N(0, 0.02),
//   attention and MLP weights N(0, σ) with σ depending on the width and depth, biases 0.
#pragma once

#include "diffmix/sd_finetune/adamw.hpp"
#include "diffmix/sd_pretrain/pretrain_config.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dmx::pretrain {

using finetune::NamedTensors;

struct ParameterSpec {
  enum class Init { Uniform, Normal, Ones, Zeros };
  std::string name;
  std::vector<int64_t> shape;
  Init init = Init::Zeros;
  double scale = 0.0;  // Uniform: the bound b of U(-b, b); Normal: the standard deviation
};

std::vector<ParameterSpec> text_encoder_layout(const TextEncoderShape& shape, int64_t vocab_size);
std::vector<ParameterSpec> vae_layout(const VaeShape& shape);
std::vector<ParameterSpec> unet_layout(const UNetShape& shape, int64_t cross_attention_dim, int64_t latent_channels);

// Float32 CPU tensors drawn in layout order from `generator`.
NamedTensors initialize(const std::vector<ParameterSpec>& layout, at::Generator generator);

int64_t parameter_count(const NamedTensors& tensors);

}  // namespace dmx::pretrain
