// Stable Diffusion 1.x pipelines, as diffusers' StableDiffusionPipeline (text to image) and
// StableDiffusionImg2ImgPipeline (SDEdit image to image), with DPM-Solver++ and classifier-free guidance.
//
//   auto sd = dmx::sd::StableDiffusion::load("models/sd-1.5", at::kHalf, at::Device("cuda"));
//   dmx::sd::Txt2ImgRequest request;
//   request.prompts = {"a photo of a cat"};
//   request.seed = 42;
//   at::Tensor images = sd.txt2img(request).images;    // float [N, H, W, 3] in [0, 1]
//
//   dmx::sd::Img2ImgRequest edit;
//   edit.prompts = {"a photo of a <class_3> bird"};
//   edit.images = dmx::sd::images_from_uint8(reference);  // float [N, 3, H, W] in [0, 1]
//   edit.strength = 0.7;                                 // runs int(25 x 0.7) = 17 of 25 steps
//   at::Tensor mixed = sd.img2img(edit).images;
//
// Guidance runs the unconditional (empty prompt) and conditional branches in one batched UNet call. Every random
// draw comes from one CPU generator seeded by the request, in diffusers' order, so a seed gives the same images on
// any device; each draw may also be supplied as a tensor to reproduce a recorded run exactly.
#pragma once

#include "diffmix/sd/autoencoder_kl.hpp"
#include "diffmix/sd/clip_text_model.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"
#include "diffmix/sd/scheduler_config.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

// What a step callback sees after each denoising step (tensors valid during the call only).
struct DenoisingStep {
  int64_t index = 0;     // 0-based among the steps this run performs
  int64_t count = 0;     // steps this run performs
  int64_t timestep = 0;
  at::Tensor unet_input;   // [2B or B, C, h, w] (latents, twice with guidance)
  at::Tensor unet_output;  // the UNet's raw prediction, [uncond; cond] with guidance
  at::Tensor noise_pred;   // after guidance: u + g (c - u)
  at::Tensor latents;      // the scheduler's new sample
};
using StepCallback = std::function<void(const DenoisingStep&)>;

// Settings shared by both pipelines.
struct GenerationOptions {
  int64_t num_inference_steps = 25;
  double guidance_scale = 7.5;  // <= 1 turns classifier-free guidance off (one UNet branch)
  int64_t images_per_prompt = 1;
  uint64_t seed = 0;
  StepCallback on_step;  // progress reporting, inspection; may throw to abort
};

struct Txt2ImgRequest : GenerationOptions {
  std::vector<std::string> prompts;
  // Output size in pixels; 0: the UNet's sample_size times the VAE's downsampling factor. Multiples of that factor.
  int64_t height = 0;
  int64_t width = 0;
  // The initial latents [N, C, h, w] (N = prompts × images_per_prompt) instead of a draw from the seed.
  std::optional<at::Tensor> initial_latents;
};

struct Img2ImgRequest : GenerationOptions {
  // One prompt per image, or one prompt for every image, or one image for every prompt.
  std::vector<std::string> prompts;
  // float [N, 3, H, W] in [0, 1]; H and W multiples of the VAE's downsampling factor.
  at::Tensor images;
  // SDEdit strength in (0, 1]: runs the last int(steps × strength) timesteps.
  double strength = 0.8;
  // Draws that replace the generator (both [N', C, h, w], N' the batch): the VAE posterior's standard normal
  // sample and the noise added to the encoded images.
  std::optional<at::Tensor> posterior_noise;
  std::optional<at::Tensor> noise;
};

struct GenerationResult {
  at::Tensor images;   // float32 [N, H, W, 3] in [0, 1] (N = batch), on the CPU
  at::Tensor latents;  // the final latents [N, C, h, w] before decoding, float32 on the pipeline's device
};

class StableDiffusion {
 public:
  // `folder`: a diffusers StableDiffusionPipeline folder (model_index.json, tokenizer/, text_encoder/, unet/, vae/,
  // scheduler/). Models are converted to `dtype` on `device`; the scheduler always computes in float32.
  static StableDiffusion load(const std::string& folder, at::ScalarType dtype = at::kFloat,
                              at::Device device = at::kCPU);

  GenerationResult txt2img(const Txt2ImgRequest& request) const;
  GenerationResult img2img(const Img2ImgRequest& request) const;

  // The text encoder's last hidden state for each prompt (padded to the tokenizer's max length): [N, L, D].
  at::Tensor encode_prompts(const std::vector<std::string>& prompts) const;
  // images in [0, 1] [N, 3, H, W] -> scaling_factor × (mean + std × posterior_noise).
  at::Tensor encode_images(const at::Tensor& images, const at::Tensor& posterior_noise) const;
  // latents [N, C, h, w] -> float32 [N, H, W, 3] in [0, 1] on the CPU.
  at::Tensor decode_latents(const at::Tensor& latents) const;

  const std::string& folder() const { return folder_; }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }
  CLIPTokenizer& tokenizer() { return tokenizer_; }
  const CLIPTokenizer& tokenizer() const { return tokenizer_; }
  CLIPTextModel& text_encoder() { return text_encoder_; }
  const CLIPTextModel& text_encoder() const { return text_encoder_; }
  UNet2DConditionModel& unet() { return unet_; }
  const UNet2DConditionModel& unet() const { return unet_; }
  const AutoencoderKL& vae() const { return vae_; }
  const SchedulerConfig& scheduler_config() const { return scheduler_config_; }
  // Latent channels and the VAE's pixels per latent pixel.
  int64_t latent_channels() const;
  int64_t vae_scale_factor() const { return vae_.downsampling_factor(); }

 private:
  StableDiffusion(std::string folder, at::ScalarType dtype, at::Device device, CLIPTokenizer tokenizer,
                  CLIPTextModel text_encoder, UNet2DConditionModel unet, AutoencoderKL vae,
                  SchedulerConfig scheduler_config);

  std::string folder_;
  at::ScalarType dtype_;
  at::Device device_;
  CLIPTokenizer tokenizer_;
  CLIPTextModel text_encoder_;
  UNet2DConditionModel unet_;
  AutoencoderKL vae_;
  SchedulerConfig scheduler_config_;
};

}  // namespace dmx::sd
