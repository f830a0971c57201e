// The sampling loop both pipelines share: UNet with classifier-free guidance, then one scheduler step, per timestep.
#pragma once

#include "diffmix/sd/pipeline_stable_diffusion.hpp"
#include "diffmix/sd/scheduling_dpmsolver_multistep.hpp"

#include <ATen/ATen.h>

#include <vector>

namespace dmx::sd {

// Text conditioning of a batch of B latents.
struct Conditioning {
  // [2B, L, D] = [unconditional × B; prompts] with guidance, else [B, L, D] (prompts only).
  at::Tensor embeddings;
  double guidance_scale = 1.0;
  bool guided() const { return guidance_scale > 1.0; }
};

// Runs `timesteps` (the scheduler's, from its begin index on) from `latents` (float32 [B, C, h, w] on the UNet's
// device) and returns the final latents.
at::Tensor run_denoising_loop(const UNet2DConditionModel& unet, DPMSolverMultistepScheduler& scheduler,
                              at::Tensor latents, const std::vector<int64_t>& timesteps,
                              const Conditioning& conditioning, const StepCallback& on_step);

}  // namespace dmx::sd
