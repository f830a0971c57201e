#include "diffmix/diffusion/synthesis_pipeline.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <map>
#include <utility>

#include "diffmix/error.hpp"
#include "diffmix/sd/image_processor.hpp"
#include "diffmix/sd/lora.hpp"
#include "diffmix/sd_finetune/artifacts.hpp"

namespace dmx::diffusion {
namespace {

// The first six names, then how many there are in all.
std::string first_names(const std::vector<std::string>& names) {
  std::string text;
  for (size_t i = 0; i < names.size() && i < 6; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > 6) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

// The artifacts must be those the strategy samples from, made for these classes; checked before anything loads.
finetune::FinetuneManifest read_checked_manifest(const SynthesisStrategy& strategy, const std::string& folder,
                                                 const std::vector<std::string>& class_names,
                                                 const std::string& metaclass) {
  if (folder.empty())
    throw config_error("'" + strategy.name + "' samples from a fine-tuned model, but no `finetuned` folder is set");
  if (!std::filesystem::is_directory(folder))
    throw not_found("fine-tuned artifacts folder '" + folder + "' does not exist (run `diffmix finetune`, or give " +
                    "the source a [finetune] table to fine-tune in prepare)");
  const std::string path = (std::filesystem::path(folder) / finetune::kManifestFile).string();
  auto manifest = finetune::FinetuneManifest::read(path);
  const std::string needed = required_finetune_strategy(strategy.model);
  const std::string found = finetune::to_string(manifest.strategy);
  if (found != needed)
    throw config_error(path + ": fine-tuned with strategy '" + found + "', but '" + strategy.name + "' needs '" +
                       needed + "' artifacts");
  if (manifest.class_names.size() != class_names.size())
    throw config_error(path + ": fine-tuned on " + std::to_string(manifest.class_names.size()) +
                       " classes, but the dataset has " + std::to_string(class_names.size()));
  if (manifest.class_names != class_names)
    throw config_error(path + ": fine-tuned on classes [" + first_names(manifest.class_names) +
                       "], but the dataset's are [" + first_names(class_names) + "]");
  if (!metaclass.empty() && manifest.metaclass != metaclass)
    throw config_error(path + ": fine-tuned with metaclass '" + manifest.metaclass + "', but the dataset's is '" +
                       metaclass + "'");
  return manifest;
}

// Standard normal [1, C, h, w] draws of one job, in diffusers' order, from a generator of its own.
std::vector<at::Tensor> job_draws(uint64_t seed, at::IntArrayRef shape, int count) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<at::Tensor> draws;
  for (int i = 0; i < count; ++i) draws.push_back(at::randn(shape, generator, at::TensorOptions().dtype(at::kFloat)));
  return draws;
}

// Job indices grouped by strength, in first-appearance order, so each group is one img2img call.
std::vector<std::vector<size_t>> group_by_strength(const std::vector<SynthesisJob>& jobs) {
  std::vector<std::vector<size_t>> groups;
  std::map<double, size_t> group_of;
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto [it, added] = group_of.emplace(jobs[i].strength, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

}  // namespace

at::Tensor square_reference(const at::Tensor& image, int64_t size) {
  if (!image.defined() || image.dim() != 3 || (image.size(2) != 1 && image.size(2) != 3))
    throw shape_error("reference image must be uint8 H×W×C with C = 1 or 3, got " +
                      (image.defined() ? c10::str(image.sizes()) : std::string("none")));
  at::Tensor rgb = image.size(2) == 1 ? image.expand({-1, -1, 3}) : image;
  const at::Tensor pixels = sd::images_from_uint8(rgb.contiguous());  // [1, 3, H, W] in [0, 1]
  return sd::resize_images(pixels, size, size).squeeze(0);
}

at::Tensor resize_generated(const at::Tensor& image, int64_t height, int64_t width) {
  const at::Tensor nchw = image.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
  const at::Tensor resized = sd::resize_images(nchw, height, width).clamp(0.0, 1.0);
  return sd::images_to_uint8(resized.permute({0, 2, 3, 1})).squeeze(0).contiguous();
}

SynthesisPipeline SynthesisPipeline::load(const SynthesisStrategy& strategy, const SynthesisPipelineOptions& options,
                                          const std::vector<std::string>& class_names, const std::string& metaclass) {
  if (options.model.empty()) throw config_error("'" + strategy.name + "': no base model folder (`model`) is set");
  if (!std::filesystem::is_directory(options.model))
    throw not_found("model folder '" + options.model + "' does not exist (a diffusers Stable Diffusion 1.x folder)");
  std::optional<finetune::FinetuneManifest> manifest;
  if (strategy.is_finetuned()) manifest = read_checked_manifest(strategy, options.finetuned, class_names, metaclass);

  auto model = sd::StableDiffusion::load(options.model, options.dtype, options.device);
  if (options.resolution % model.vae_scale_factor() != 0)
    throw config_error("resolution " + std::to_string(options.resolution) + " is not a multiple of the VAE's " +
                       "downsampling factor " + std::to_string(model.vae_scale_factor()) + " (" + options.model + ")");
  std::vector<std::string> prompts;
  if (manifest) {
    finetune::apply_finetune_artifacts(options.finetuned, model.tokenizer(), model.text_encoder(), model.unet(),
                                       static_cast<int64_t>(class_names.size()));
    if (finetune::learns_lora(manifest->strategy)) sd::merge_lora(model.unet());  // inference only: fold it in
    prompts = class_prompts(strategy, class_names, manifest->prompts);
  } else {
    prompts = class_prompts(strategy, class_names);
  }
  return SynthesisPipeline(strategy, options, std::move(model), std::move(prompts));
}

SynthesisPipeline::SynthesisPipeline(SynthesisStrategy strategy, SynthesisPipelineOptions options,
                                     sd::StableDiffusion model, std::vector<std::string> prompts)
    : strategy_(std::move(strategy)),
      options_(std::move(options)),
      model_(std::move(model)),
      prompts_(std::move(prompts)) {}

std::vector<at::Tensor> SynthesisPipeline::generate(const std::vector<SynthesisJob>& jobs,
                                                    const std::vector<at::Tensor>& references,
                                                    const sd::StepCallback& on_step) const {
  for (const auto& job : jobs)
    if (job.target_class < 0 || job.target_class >= static_cast<int64_t>(prompts_.size()))
      throw invalid_argument("synthesis job " + std::to_string(job.index) + ": target class " +
                             std::to_string(job.target_class) + " outside [0, " + std::to_string(prompts_.size()) +
                             ")");
  if (!strategy_.uses_reference_image()) return imagine(jobs, on_step);
  if (references.size() != jobs.size())
    throw invalid_argument("synthesis: " + std::to_string(jobs.size()) + " jobs but " +
                           std::to_string(references.size()) + " reference images");
  return translate(jobs, references, on_step);
}

std::vector<at::Tensor> SynthesisPipeline::translate(const std::vector<SynthesisJob>& jobs,
                                                     const std::vector<at::Tensor>& references,
                                                     const sd::StepCallback& on_step) const {
  const int64_t size = options_.resolution;
  const int64_t latent = size / model_.vae_scale_factor();
  const std::vector<int64_t> shape = {1, model_.latent_channels(), latent, latent};
  std::vector<at::Tensor> out(jobs.size());
  for (const auto& group : group_by_strength(jobs)) {
    sd::Img2ImgRequest request;
    request.num_inference_steps = options_.steps;
    request.guidance_scale = options_.guidance;
    request.strength = jobs[group.front()].strength;
    request.on_step = on_step;
    std::vector<at::Tensor> pixels, posterior, noise;
    for (const size_t i : group) {
      request.prompts.push_back(prompts_[static_cast<size_t>(jobs[i].target_class)]);
      pixels.push_back(square_reference(references[i], size));
      auto draws = job_draws(jobs[i].seed, shape, 2);
      posterior.push_back(draws[0]);
      noise.push_back(draws[1]);
    }
    request.images = at::stack(pixels);
    request.posterior_noise = at::cat(posterior);
    request.noise = at::cat(noise);
    const at::Tensor images = model_.img2img(request).images;  // [n, size, size, 3] in [0, 1]
    for (size_t g = 0; g < group.size(); ++g) {
      const at::Tensor& reference = references[group[g]];
      out[group[g]] = resize_generated(images[static_cast<int64_t>(g)], reference.size(0), reference.size(1));
    }
  }
  return out;
}

std::vector<at::Tensor> SynthesisPipeline::imagine(const std::vector<SynthesisJob>& jobs,
                                                   const sd::StepCallback& on_step) const {
  if (jobs.empty()) return {};
  const int64_t size = options_.resolution;
  const int64_t latent = size / model_.vae_scale_factor();
  sd::Txt2ImgRequest request;
  request.num_inference_steps = options_.steps;
  request.guidance_scale = options_.guidance;
  request.height = size;
  request.width = size;
  request.on_step = on_step;
  std::vector<at::Tensor> initial;
  for (const auto& job : jobs) {
    request.prompts.push_back(prompts_[static_cast<size_t>(job.target_class)]);
    initial.push_back(job_draws(job.seed, {1, model_.latent_channels(), latent, latent}, 1)[0]);
  }
  // DPM-Solver++'s initial noise sigma is 1, so the draws are the initial latents as they are.
  request.initial_latents = at::cat(initial);
  const at::Tensor images = model_.txt2img(request).images;
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < images.size(0); ++i) out.push_back(resize_generated(images[i], size, size));
  return out;
}

}  // namespace dmx::diffusion
