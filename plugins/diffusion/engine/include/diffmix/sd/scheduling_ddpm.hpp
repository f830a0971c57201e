// DDPMScheduler's training side, as diffusers' scheduling_ddpm.py: noising clean latents to timestep t and the
// regression target the UNet is trained on (Stable Diffusion fine-tuning).
//
//   auto ddpm = dmx::sd::DDPMScheduler::load("sd15");              // scheduler/scheduler_config.json
//   at::Tensor t = at::randint(0, ddpm.num_train_timesteps(), {batch}, at::kLong);
//   at::Tensor noisy = ddpm.add_noise(latents, noise, t);
//   at::Tensor target = ddpm.training_target(latents, noise, t);   // epsilon: noise; v_prediction: velocity
#pragma once

#include "diffmix/sd/scheduler_config.hpp"

#include <ATen/ATen.h>

#include <string>

namespace dmx::sd {

class DDPMScheduler {
 public:
  explicit DDPMScheduler(SchedulerConfig config);
  // `folder`: a diffusers pipeline folder or its scheduler/ folder.
  static DDPMScheduler load(const std::string& folder);

  const SchedulerConfig& config() const { return config_; }
  int64_t num_train_timesteps() const { return config_.num_train_timesteps; }
  const at::Tensor& betas() const { return schedule_.betas; }
  const at::Tensor& alphas_cumprod() const { return schedule_.alphas_cumprod; }

  // sqrt(acp[t]) * x0 + sqrt(1 - acp[t]) * noise, per sample. x0 and noise [B, ...]; timesteps int64 [B] in
  // [0, num_train_timesteps).
  at::Tensor add_noise(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& timesteps) const;
  // The v-prediction target sqrt(acp[t]) * noise - sqrt(1 - acp[t]) * x0.
  at::Tensor velocity(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& timesteps) const;
  // What the UNet should predict under the config's prediction_type: noise, velocity or x0.
  at::Tensor training_target(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& timesteps) const;

 private:
  // sqrt(acp[t]) and sqrt(1 - acp[t]) shaped [B, 1, 1, ...] to broadcast against `like`.
  std::pair<at::Tensor, at::Tensor> signal_and_noise_scales(const at::Tensor& timesteps, const at::Tensor& like) const;

  SchedulerConfig config_;
  NoiseSchedule schedule_;
};

}  // namespace dmx::sd
