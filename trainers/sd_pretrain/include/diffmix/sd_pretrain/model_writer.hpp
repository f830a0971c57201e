// Writes a diffusers StableDiffusionPipeline folder that dmx::sd::StableDiffusion::load and diffusers'
// StableDiffusionPipeline.from_pretrained both load unchanged:
//
//   <folder>/model_index.json                 StableDiffusionPipeline, safety checker and feature extractor null
//   <folder>/tokenizer/                       vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json
//   <folder>/text_encoder/                    config.json, model.safetensors                 (CLIPTextModel)
//   <folder>/vae/                             config.json, diffusion_pytorch_model.safetensors (AutoencoderKL)
//   <folder>/unet/                            config.json, diffusion_pytorch_model.safetensors (UNet2DConditionModel)
//   <folder>/scheduler/scheduler_config.json  DPMSolverMultistepScheduler, scaled_linear 0.00085 → 0.012, 1000 steps
//
// Config files carry exactly the keys diffusers 0.27 and transformers write (tests/fixtures/sd-tiny/model is the
// reference); weights are float32 with the parameter names of parameter_layout.hpp.
#pragma once

#include "diffmix/sd_pretrain/clip_vocabulary.hpp"
#include "diffmix/sd_pretrain/parameter_layout.hpp"
#include "diffmix/sd_pretrain/pretrain_config.hpp"

#include <string>

namespace dmx::pretrain {

struct ModelWeights {
  NamedTensors text_encoder, vae, unet;
};

// The config.json texts, as JSON.
std::string unet_config_json(const Architecture& architecture);
std::string vae_config_json(const Architecture& architecture, double scaling_factor);
std::string text_encoder_config_json(const Architecture& architecture, const ClipVocabulary& vocabulary);
std::string scheduler_config_json();
std::string model_index_json();

// Writes (or overwrites) the whole folder; each file is replaced atomically.
void write_model_folder(const std::string& folder, const Architecture& architecture, const ClipVocabulary& vocabulary,
                        const ModelWeights& weights, double scaling_factor);

// The weights files inside a model folder.
std::string unet_weights_path(const std::string& folder);
std::string vae_weights_path(const std::string& folder);
std::string text_encoder_weights_path(const std::string& folder);

}  // namespace dmx::pretrain
