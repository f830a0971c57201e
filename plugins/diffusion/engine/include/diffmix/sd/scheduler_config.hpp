// The scheduler settings of a diffusers folder (`scheduler/scheduler_config.json`), shared by the training-noise
// scheduler (DDPM) and the sampler (DPM-Solver++), and the training noise schedule (betas, alphas_cumprod) they
// are both built on.
//
//   auto config = dmx::sd::SchedulerConfig::load("sd15/scheduler/scheduler_config.json");
//   auto schedule = dmx::sd::NoiseSchedule::from_config(config);   // schedule.alphas_cumprod[t]
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <limits>
#include <string>

namespace dmx::sd {

struct SchedulerConfig {
  // Training noise.
  int64_t num_train_timesteps = 1000;
  double beta_start = 0.0001;
  double beta_end = 0.02;
  std::string beta_schedule = "linear";  // "linear" or "scaled_linear"
  std::string prediction_type = "epsilon";  // "epsilon", "v_prediction" or "sample"

  // Sampling (DPM-Solver++ multistep).
  std::string algorithm_type = "dpmsolver++";
  int64_t solver_order = 2;                // 1 or 2
  std::string solver_type = "midpoint";    // "midpoint" or "heun"
  bool lower_order_final = true;
  bool euler_at_final = false;
  std::string final_sigmas_type = "zero";  // "zero" or "sigma_min"
  double lambda_min_clipped = -std::numeric_limits<double>::infinity();
  std::string timestep_spacing = "linspace";  // "linspace", "leading" or "trailing"
  int64_t steps_offset = 0;

  // Where the values came from (for error messages); empty for a config built in code.
  std::string source;

  // Reads a diffusers scheduler_config.json. Python's `Infinity`/`NaN` literals are accepted (diffusers writes
  // `"lambda_min_clipped": -Infinity`). A wrong-typed key, an unknown choice, or a feature this engine does not
  // implement (Karras sigmas, thresholding, zero-SNR rescaling, SDE variants, ...) is a dmx::Error naming the file
  // and the key.
  static SchedulerConfig load(const std::string& path);

  // `folder` is a diffusers pipeline folder (its scheduler/ is used) or the scheduler folder itself.
  static SchedulerConfig load_from_folder(const std::string& folder);
};

// betas and their cumulative products over the num_train_timesteps training steps, float32 as diffusers computes
// them: scaled_linear is linspace(sqrt(beta_start), sqrt(beta_end))², linear is linspace(beta_start, beta_end).
struct NoiseSchedule {
  at::Tensor betas;           // [num_train_timesteps] float32
  at::Tensor alphas_cumprod;  // [num_train_timesteps] float32, prod_{s<=t} (1 - beta_s)

  static NoiseSchedule from_config(const SchedulerConfig& config);
};

}  // namespace dmx::sd
