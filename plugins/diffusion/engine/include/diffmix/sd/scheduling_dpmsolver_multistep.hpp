// DPMSolverMultistepScheduler (DPM-Solver++, orders 1-2, deterministic), as diffusers 0.27's
// scheduling_dpmsolver_multistep.py: the sampler of the Stable Diffusion pipelines.
//
//   auto scheduler = dmx::sd::DPMSolverMultistepScheduler::load("sd15");
//   scheduler.set_timesteps(25);                                   // 999, 959, ..., 40
//   for (int64_t t : scheduler.timesteps()) latents = scheduler.step(unet(latents, t), t, latents);
//
// A scheduler carries the state of one sampling run (the previous model outputs); set_timesteps starts a new run.
#pragma once

#include "diffmix/sd/scheduler_config.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

class DPMSolverMultistepScheduler {
 public:
  explicit DPMSolverMultistepScheduler(SchedulerConfig config);
  // `folder`: a diffusers pipeline folder or its scheduler/ folder.
  static DPMSolverMultistepScheduler load(const std::string& folder);

  const SchedulerConfig& config() const { return config_; }
  const at::Tensor& betas() const { return schedule_.betas; }
  const at::Tensor& alphas_cumprod() const { return schedule_.alphas_cumprod; }
  // The initial latents are drawn from N(0, init_noise_sigma²); 1 for DPM-Solver.
  double init_noise_sigma() const { return 1.0; }

  // Chooses `num_inference_steps` timesteps by the config's timestep_spacing and resets the solver's history.
  void set_timesteps(int64_t num_inference_steps);
  const std::vector<int64_t>& timesteps() const { return timesteps_; }
  // sqrt((1 - acp[t]) / acp[t]) at each timestep plus the final sigma (0 or sigma_min): timesteps().size() + 1.
  const std::vector<float>& sigmas() const { return sigmas_; }

  // Makes the first step() start at `index` into timesteps() (img2img starts part-way into the schedule).
  void set_begin_index(int64_t index);
  std::optional<int64_t> begin_index() const { return begin_index_; }
  std::optional<int64_t> step_index() const { return step_index_; }

  // One solver step from `sample` at `timestep` given the UNet's `model_output`; returns the sample at the next
  // timestep, float32 (the update is computed in float32 whatever the model's dtype, as diffusers does).
  at::Tensor step(const at::Tensor& model_output, int64_t timestep, const at::Tensor& sample);

  // Noises clean samples to the sigma of the begin index (or of `timesteps` looked up in the schedule when no begin
  // index is set): alpha_t * x0 + sigma_t * noise. timesteps: int64 [B].
  at::Tensor add_noise(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& timesteps) const;

 private:
  struct AlphaSigma {
    float alpha;  // 1 / sqrt(1 + sigma²)
    float sigma;  // sigma * alpha
    float lambda() const;
  };
  AlphaSigma alpha_sigma(int64_t sigma_index) const;
  int64_t index_for_timestep(int64_t timestep) const;
  void require_timesteps(const char* what) const;

  at::Tensor convert_model_output(const at::Tensor& model_output, const at::Tensor& sample) const;
  at::Tensor first_order_update(const at::Tensor& x0_pred, const at::Tensor& sample) const;
  at::Tensor second_order_update(const at::Tensor& sample) const;

  SchedulerConfig config_;
  NoiseSchedule schedule_;
  std::vector<int64_t> timesteps_;
  std::vector<float> sigmas_;
  // x0 predictions of the last solver_order steps, oldest first.
  std::vector<at::Tensor> model_outputs_;
  int64_t lower_order_nums_ = 0;
  std::optional<int64_t> step_index_;
  std::optional<int64_t> begin_index_;
};

}  // namespace dmx::sd
