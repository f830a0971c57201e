// How a request's prompts (and images) become the samples of one batch, and the seeded draws and text conditioning
// of that batch.
#pragma once

#include "denoising_loop.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dmx::sd {

struct GenerationBatch {
  std::vector<std::string> prompts;  // as given; encoded once each
  at::Tensor prompt_index;           // int64 [B]: the prompt of each sample
  at::Tensor image_index;            // int64 [B]: the input image of each sample (img2img only)

  int64_t size() const { return prompt_index.size(0); }

  // Each prompt images_per_prompt times, consecutively (as diffusers' num_images_per_prompt).
  static GenerationBatch for_prompts(const std::vector<std::string>& prompts, int64_t images_per_prompt);
  // Prompt i with image i, or one prompt with every image, or every prompt with the one image; each pair
  // images_per_prompt times, consecutively.
  static GenerationBatch for_prompts_and_images(const std::vector<std::string>& prompts, int64_t image_count,
                                                int64_t images_per_prompt);
};

// A CPU generator: the same seed draws the same numbers whatever device the pipeline runs on.
at::Generator make_seeded_generator(uint64_t seed);
// float32 N(0, 1) of `shape`, on the CPU.
at::Tensor draw_standard_normal(at::Generator& generator, at::IntArrayRef shape);
// `tensor` if it has `shape`, else a shape error naming `what`.
at::Tensor require_shape(const at::Tensor& tensor, at::IntArrayRef shape, const std::string& what);

// [uncond × B; prompt of each sample] with guidance (uncond = the empty prompt), else the prompts alone.
Conditioning make_conditioning(const StableDiffusion& pipeline, const GenerationBatch& batch, double guidance_scale);

}  // namespace dmx::sd
