// The SDEdit image-to-image pipeline (diffusers' pipeline_stable_diffusion_img2img.py): encode the images, noise them
// to the timestep the strength selects, and denoise from there.
#include "denoising_loop.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"
#include "diffmix/sd/sdedit.hpp"
#include "generation_batch.hpp"

#include <c10/core/InferenceMode.h>

namespace dmx::sd {

GenerationResult StableDiffusion::img2img(const Img2ImgRequest& request) const {
  c10::InferenceMode inference;
  const auto& images = request.images;
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3)
    throw shape_error("img2img: images must be float [N, 3, H, W] in [0, 1], got " +
                      (images.defined() ? c10::str(images.sizes()) : std::string("none")));
  const int64_t factor = vae_scale_factor();
  if (images.size(2) % factor != 0 || images.size(3) % factor != 0)
    throw invalid_argument("img2img: image size " + std::to_string(images.size(2)) + "x" +
                           std::to_string(images.size(3)) + " must be a multiple of the VAE's downsampling factor " +
                           std::to_string(factor) + " (resize the images first)");
  const auto batch =
      GenerationBatch::for_prompts_and_images(request.prompts, images.size(0), request.images_per_prompt);

  DPMSolverMultistepScheduler scheduler(scheduler_config_);
  scheduler.set_timesteps(request.num_inference_steps);
  const int64_t begin = sdedit_begin_index(request.num_inference_steps, request.strength);
  scheduler.set_begin_index(begin);
  const std::vector<int64_t> timesteps(scheduler.timesteps().begin() + begin, scheduler.timesteps().end());

  // Random draws in diffusers' order: the posterior sample of each input image first, then the added noise.
  auto generator = make_seeded_generator(request.seed);
  const std::vector<int64_t> image_latent_shape = {images.size(0), latent_channels(), images.size(2) / factor,
                                                   images.size(3) / factor};
  const auto posterior_noise =
      request.posterior_noise ? require_shape(*request.posterior_noise, image_latent_shape, "img2img: posterior_noise")
                              : draw_standard_normal(generator, image_latent_shape);
  std::vector<int64_t> latent_shape = image_latent_shape;
  latent_shape[0] = batch.size();
  const auto noise = request.noise ? require_shape(*request.noise, latent_shape, "img2img: noise")
                                   : draw_standard_normal(generator, latent_shape);

  const auto image_latents = encode_images(images, posterior_noise);
  const auto clean_latents = image_latents.index_select(0, batch.image_index.to(image_latents.device()));
  const auto start_timesteps = at::full({batch.size()}, timesteps.front(), at::kLong);
  auto latents = scheduler.add_noise(clean_latents, noise.to(clean_latents.device(), at::kFloat), start_timesteps);

  const auto conditioning = make_conditioning(*this, batch, request.guidance_scale);
  latents = run_denoising_loop(unet_, scheduler, latents, timesteps, conditioning, request.on_step);
  return {decode_latents(latents), latents};
}

}  // namespace dmx::sd
