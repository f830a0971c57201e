// Batch layout, seeded draws and text conditioning shared by the pipelines.
#include "generation_batch.hpp"

#include "diffmix/error.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

namespace dmx::sd {
namespace {

void require_images_per_prompt(int64_t images_per_prompt) {
  if (images_per_prompt < 1)
    throw invalid_argument("images_per_prompt must be at least 1, got " + std::to_string(images_per_prompt));
}

at::Tensor as_index(const std::vector<int64_t>& values) { return at::tensor(values, at::kLong); }

}  // namespace

GenerationBatch GenerationBatch::for_prompts(const std::vector<std::string>& prompts, int64_t images_per_prompt) {
  if (prompts.empty()) throw invalid_argument("a Stable Diffusion request needs at least one prompt");
  require_images_per_prompt(images_per_prompt);
  std::vector<int64_t> prompt_index;
  for (size_t p = 0; p < prompts.size(); ++p)
    for (int64_t r = 0; r < images_per_prompt; ++r) prompt_index.push_back(static_cast<int64_t>(p));
  return {prompts, as_index(prompt_index), at::Tensor()};
}

GenerationBatch GenerationBatch::for_prompts_and_images(const std::vector<std::string>& prompts, int64_t image_count,
                                                        int64_t images_per_prompt) {
  if (prompts.empty()) throw invalid_argument("img2img: a request needs at least one prompt");
  if (image_count < 1) throw invalid_argument("img2img: a request needs at least one image");
  require_images_per_prompt(images_per_prompt);
  const auto prompt_count = static_cast<int64_t>(prompts.size());
  if (prompt_count != image_count && prompt_count != 1 && image_count != 1)
    throw invalid_argument("img2img: " + std::to_string(prompt_count) + " prompts for " + std::to_string(image_count) +
                           " images; give one prompt per image, one prompt, or one image");
  const int64_t pairs = std::max(prompt_count, image_count);
  std::vector<int64_t> prompt_index, image_index;
  for (int64_t k = 0; k < pairs; ++k) {
    for (int64_t r = 0; r < images_per_prompt; ++r) {
      prompt_index.push_back(prompt_count == 1 ? 0 : k);
      image_index.push_back(image_count == 1 ? 0 : k);
    }
  }
  return {prompts, as_index(prompt_index), as_index(image_index)};
}

at::Generator make_seeded_generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

at::Tensor draw_standard_normal(at::Generator& generator, at::IntArrayRef shape) {
  return at::randn(shape, generator, at::TensorOptions().dtype(at::kFloat));
}

at::Tensor require_shape(const at::Tensor& tensor, at::IntArrayRef shape, const std::string& what) {
  if (!tensor.defined() || !tensor.sizes().equals(shape))
    throw shape_error(what + " must have shape " + c10::str(shape) + ", got " +
                      (tensor.defined() ? c10::str(tensor.sizes()) : std::string("an undefined tensor")));
  return tensor;
}

Conditioning make_conditioning(const StableDiffusion& pipeline, const GenerationBatch& batch, double guidance_scale) {
  Conditioning conditioning;
  conditioning.guidance_scale = guidance_scale;
  const auto prompt_embeddings = pipeline.encode_prompts(batch.prompts);
  const auto positive = prompt_embeddings.index_select(0, batch.prompt_index.to(prompt_embeddings.device()));
  if (!conditioning.guided()) {
    conditioning.embeddings = positive;
    return conditioning;
  }
  // The unconditional branch is the empty prompt (diffusers' negative_prompt=None).
  const auto unconditional = pipeline.encode_prompts({""}).expand_as(positive);
  conditioning.embeddings = at::cat({unconditional, positive});
  return conditioning;
}

}  // namespace dmx::sd
