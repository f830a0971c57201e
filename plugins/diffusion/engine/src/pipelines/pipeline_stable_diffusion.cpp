// StableDiffusion: loading the components and the text-to-image pipeline (diffusers' pipeline_stable_diffusion.py).
#include "diffmix/sd/pipeline_stable_diffusion.hpp"

#include "denoising_loop.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sd/image_processor.hpp"
#include "diffmix/sd/model_folder.hpp"
#include "generation_batch.hpp"

#include <c10/core/InferenceMode.h>

#include <utility>

namespace dmx::sd {

StableDiffusion::StableDiffusion(std::string folder, at::ScalarType dtype, at::Device device, CLIPTokenizer tokenizer,
                                 CLIPTextModel text_encoder, UNet2DConditionModel unet, AutoencoderKL vae,
                                 SchedulerConfig scheduler_config)
    : folder_(std::move(folder)),
      dtype_(dtype),
      device_(device),
      tokenizer_(std::move(tokenizer)),
      text_encoder_(std::move(text_encoder)),
      unet_(std::move(unet)),
      vae_(std::move(vae)),
      scheduler_config_(std::move(scheduler_config)) {}

StableDiffusion StableDiffusion::load(const std::string& folder, at::ScalarType dtype, at::Device device) {
  c10::InferenceMode inference;
  const auto model = ModelFolder::open(folder);
  for (const char* component : {"tokenizer", "text_encoder", "unet", "vae", "scheduler"})
    if (!model.has_component(component))
      throw not_found(model.index_path() + ": component '" + std::string(component) +
                      "' is missing (a Stable Diffusion pipeline needs tokenizer, text_encoder, unet, vae, scheduler)");
  auto tokenizer = CLIPTokenizer::load(model.component("tokenizer").path());
  auto text_encoder = CLIPTextModel::load(model.path(), dtype, device);
  auto unet = UNet2DConditionModel::load(model.component("unet").path(), dtype, device);
  auto vae = AutoencoderKL::load(model.component("vae").path(), dtype, device);
  auto scheduler_config = SchedulerConfig::load(model.component("scheduler").config_path());
  if (unet.config().in_channels != vae.config().latent_channels)
    throw config_error(folder + ": unet in_channels (" + std::to_string(unet.config().in_channels) +
                       ") differs from vae latent_channels (" + std::to_string(vae.config().latent_channels) + ")");
  return StableDiffusion(folder, dtype, device, std::move(tokenizer), std::move(text_encoder), std::move(unet),
                         std::move(vae), std::move(scheduler_config));
}

int64_t StableDiffusion::latent_channels() const { return vae_.config().latent_channels; }

at::Tensor StableDiffusion::encode_prompts(const std::vector<std::string>& prompts) const {
  c10::InferenceMode inference;
  const auto batch = tokenizer_.encode_batch(prompts);
  return text_encoder_.encode(batch.input_ids.to(device_));
}

at::Tensor StableDiffusion::encode_images(const at::Tensor& images, const at::Tensor& posterior_noise) const {
  c10::InferenceMode inference;
  const auto posterior = vae_.encode(normalize_images(images).to(device_, dtype_));
  if (!posterior_noise.sizes().equals(posterior.mean().sizes()))
    throw shape_error("encode_images: posterior noise " + c10::str(posterior_noise.sizes()) +
                      " must have the latents' shape " + c10::str(posterior.mean().sizes()));
  const auto sample = posterior.sample(posterior_noise.to(device_, dtype_));
  return (sample * vae_.scaling_factor()).to(at::kFloat);
}

at::Tensor StableDiffusion::decode_latents(const at::Tensor& latents) const {
  c10::InferenceMode inference;
  const auto decoded = vae_.decode((latents.to(device_, at::kFloat) / vae_.scaling_factor()).to(dtype_));
  return postprocess_images(decoded).cpu();
}

GenerationResult StableDiffusion::txt2img(const Txt2ImgRequest& request) const {
  c10::InferenceMode inference;
  const auto batch = GenerationBatch::for_prompts(request.prompts, request.images_per_prompt);
  const int64_t factor = vae_scale_factor();
  const int64_t height = request.height > 0 ? request.height : unet_.config().sample_size * factor;
  const int64_t width = request.width > 0 ? request.width : unet_.config().sample_size * factor;
  if (height % factor != 0 || width % factor != 0)
    throw invalid_argument("txt2img: height and width (" + std::to_string(height) + "x" + std::to_string(width) +
                           ") must be multiples of the VAE's downsampling factor " + std::to_string(factor));

  DPMSolverMultistepScheduler scheduler(scheduler_config_);
  scheduler.set_timesteps(request.num_inference_steps);

  const std::vector<int64_t> latent_shape = {batch.size(), latent_channels(), height / factor, width / factor};
  at::Tensor latents;
  if (request.initial_latents) {
    latents = require_shape(*request.initial_latents, latent_shape, "txt2img: initial_latents");
  } else {
    auto generator = make_seeded_generator(request.seed);
    latents = draw_standard_normal(generator, latent_shape) * scheduler.init_noise_sigma();
  }
  const auto conditioning = make_conditioning(*this, batch, request.guidance_scale);
  latents = run_denoising_loop(unet_, scheduler, latents.to(device_, at::kFloat), scheduler.timesteps(), conditioning,
                               request.on_step);
  return {decode_latents(latents), latents};
}

}  // namespace dmx::sd
