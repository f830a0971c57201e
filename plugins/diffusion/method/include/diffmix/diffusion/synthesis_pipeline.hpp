// The images of synthesis jobs: a Stable Diffusion model loaded the way a strategy needs it, and the exact rules by
// which Diff-Mix turns a job into an image.
//
//   SynthesisPipelineOptions options;
//   options.model = "models/sd-1.5";
//   options.finetuned = "runs/finetune-cub";               // for da-fusion and the diff-* strategies
//   auto pipeline = SynthesisPipeline::load(find_synthesis_strategy("diff-mix"), options, class_names, metaclass);
//   std::vector<at::Tensor> images = pipeline.generate(jobs, references);   // uint8 H×W×3 each
//
// How one job becomes an image (docs/method.md):
//   img2img   the reference image is resized to resolution × resolution (bilinear, aspect ignored), translated with
//             SDEdit at the job's strength toward the prompt of the job's target class (DPM-Solver++, `steps`
//             steps, classifier-free guidance with the empty prompt as the unconditional branch), and the result is
//             resized back to the reference's own height and width;
//   txt2img   the prompt of the target class from pure noise, resolution × resolution.
// Every random draw of job k (the VAE posterior sample and the added noise, or the initial latents) comes from a
// generator seeded by the job's seed alone, in diffusers' order, so an image does not depend on which other jobs
// share its batch: a job generated alone equals `diffmix sd img2img --seed <job seed>` with batch 1.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "diffmix/diffusion/synthesis_plan.hpp"
#include "diffmix/diffusion/synthesis_strategy.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"

namespace dmx::diffusion {

struct SynthesisPipelineOptions {
  std::string model;      // a diffusers Stable Diffusion 1.x folder (the base model)
  std::string finetuned;  // a `diffmix finetune` output folder; required by the fine-tuned strategies only
  int64_t steps = 25;     // DPM-Solver++ steps of the full schedule; img2img runs int(steps × strength) of them
  double guidance = 7.5;  // classifier-free guidance scale (<= 1: no guidance)
  int64_t resolution = 512;  // pixels; a multiple of the VAE's downsampling factor
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
};

class SynthesisPipeline {
 public:
  // Loads the base model and, for a fine-tuned strategy, the artifacts of `options.finetuned`. Artifacts made with
  // another fine-tuning strategy ("ti" for "ti+db"), another base model, another class count, other class names or
  // another metaclass (empty: not checked) are a Config error naming both values; a missing folder or file is a NotFound error naming it.
  static SynthesisPipeline load(const SynthesisStrategy& strategy, const SynthesisPipelineOptions& options,
                                const std::vector<std::string>& class_names, const std::string& metaclass);

  // One image per job, in order: uint8 H×W×3. `references[i]` is the reference image of jobs[i] (uint8 H×W×C,
  // C = 1 or 3) for an img2img strategy and is ignored (may be undefined) for txt2img. Jobs of one strength are
  // denoised in one batch; the result of a job does not depend on the others. `on_step` sees every denoising step.
  std::vector<at::Tensor> generate(const std::vector<SynthesisJob>& jobs, const std::vector<at::Tensor>& references,
                                   const sd::StepCallback& on_step = {}) const;

  // The prompt of each class, as the strategy writes it.
  const std::vector<std::string>& prompts() const { return prompts_; }
  const SynthesisStrategy& strategy() const { return strategy_; }
  const SynthesisPipelineOptions& options() const { return options_; }
  const sd::StableDiffusion& model() const { return model_; }

 private:
  SynthesisPipeline(SynthesisStrategy strategy, SynthesisPipelineOptions options, sd::StableDiffusion model,
                    std::vector<std::string> prompts);

  std::vector<at::Tensor> translate(const std::vector<SynthesisJob>& jobs, const std::vector<at::Tensor>& references,
                                    const sd::StepCallback& on_step) const;
  std::vector<at::Tensor> imagine(const std::vector<SynthesisJob>& jobs, const sd::StepCallback& on_step) const;

  SynthesisStrategy strategy_;
  SynthesisPipelineOptions options_;
  sd::StableDiffusion model_;
  std::vector<std::string> prompts_;
};

// A reference image as the pipeline feeds it: uint8 H×W×C (C = 1 or 3) → float [3, size, size] in [0, 1], resized
// bilinearly with the aspect ratio ignored.
at::Tensor square_reference(const at::Tensor& image, int64_t size);
// A generated image float [H', W', 3] in [0, 1] → uint8 [height, width, 3] (bilinear, then rounded).
at::Tensor resize_generated(const at::Tensor& image, int64_t height, int64_t width);

}  // namespace dmx::diffusion
