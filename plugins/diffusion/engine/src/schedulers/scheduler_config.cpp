// Reading scheduler_config.json and building the training noise schedule.
#include "diffmix/sd/scheduler_config.hpp"

#include "diffmix/error.hpp"

#include "diffmix/sd/config_file.hpp"

#include <cmath>
#include <filesystem>
#include <initializer_list>

namespace dmx::sd {
namespace {

// A string key whose value must be one of `allowed`; anything else is a feature this engine does not implement.
std::string choice(const ConfigFile& file, const char* key, const std::string& fallback,
                   std::initializer_list<const char*> allowed) {
  const auto text = file.string(key, fallback);
  std::string listed;
  for (const char* option : allowed) {
    if (text == option) return text;
    listed += std::string(listed.empty() ? "" : ", ") + "'" + option + "'";
  }
  throw unsupported(file.source() + ": key '" + key + "' is '" + text + "'; this engine supports " + listed);
}

// Features diffusers offers but this engine does not implement must be off (false, null or absent).
void require_off(const ConfigFile& file, const char* key) {
  if (!file.has_value(key)) return;
  const auto& value = file.json().at(key);
  if (!(value.is_boolean() && !value.get<bool>()))
    throw unsupported(file.source() + ": key '" + key + "' is " + value.dump() + "; only false/null is supported");
}

}  // namespace

SchedulerConfig SchedulerConfig::load(const std::string& path) {
  const auto reader = ConfigFile::open(path);

  SchedulerConfig config;
  config.source = path;
  config.num_train_timesteps = reader.integer("num_train_timesteps", config.num_train_timesteps);
  if (config.num_train_timesteps < 2)
    throw config_error(path + ": key 'num_train_timesteps' must be at least 2, got " +
                       std::to_string(config.num_train_timesteps));
  config.beta_start = reader.number("beta_start", config.beta_start);
  config.beta_end = reader.number("beta_end", config.beta_end);
  if (!(config.beta_start > 0.0 && config.beta_end >= config.beta_start && config.beta_end < 1.0))
    throw config_error(path + ": keys 'beta_start'/'beta_end' must satisfy 0 < beta_start <= beta_end < 1");
  config.beta_schedule = choice(reader, "beta_schedule", config.beta_schedule, {"linear", "scaled_linear"});
  config.prediction_type =
      choice(reader, "prediction_type", config.prediction_type, {"epsilon", "v_prediction", "sample"});
  config.algorithm_type = choice(reader, "algorithm_type", config.algorithm_type, {"dpmsolver++"});
  config.solver_order = reader.integer("solver_order", config.solver_order);
  if (config.solver_order != 1 && config.solver_order != 2)
    throw unsupported(path + ": key 'solver_order' is " + std::to_string(config.solver_order) +
                      "; this engine supports 1 and 2");
  config.solver_type = choice(reader, "solver_type", config.solver_type, {"midpoint", "heun"});
  config.lower_order_final = reader.boolean("lower_order_final", config.lower_order_final);
  config.euler_at_final = reader.boolean("euler_at_final", config.euler_at_final);
  config.final_sigmas_type = choice(reader, "final_sigmas_type", config.final_sigmas_type, {"zero", "sigma_min"});
  config.lambda_min_clipped = reader.number("lambda_min_clipped", config.lambda_min_clipped);
  config.timestep_spacing =
      choice(reader, "timestep_spacing", config.timestep_spacing, {"linspace", "leading", "trailing"});
  config.steps_offset = reader.integer("steps_offset", config.steps_offset);
  for (const char* key : {"trained_betas", "thresholding", "use_karras_sigmas", "use_lu_lambdas",
                          "rescale_betas_zero_snr"})
    require_off(reader, key);
  // A learned variance doubles the UNet's output channels; SD 1.x predicts noise only. (DDPM configs name their
  // sampling variance here, "fixed_small" etc., which the training side does not use.)
  const auto variance = reader.string("variance_type", "");
  if (variance == "learned" || variance == "learned_range")
    throw unsupported(path + ": key 'variance_type' is '" + variance + "'; learned variances are not supported");
  return config;
}

SchedulerConfig SchedulerConfig::load_from_folder(const std::string& folder) {
  namespace fs = std::filesystem;
  const fs::path nested = fs::path(folder) / "scheduler" / "scheduler_config.json";
  if (fs::exists(nested)) return load(nested.string());
  const fs::path direct = fs::path(folder) / "scheduler_config.json";
  if (fs::exists(direct)) return load(direct.string());
  throw not_found(folder + ": no scheduler/scheduler_config.json (expected a diffusers pipeline folder)");
}

NoiseSchedule NoiseSchedule::from_config(const SchedulerConfig& config) {
  const auto n = config.num_train_timesteps;
  NoiseSchedule schedule;
  if (config.beta_schedule == "scaled_linear") {
    schedule.betas =
        at::linspace(std::sqrt(config.beta_start), std::sqrt(config.beta_end), n, at::kFloat).pow(2);
  } else if (config.beta_schedule == "linear") {
    schedule.betas = at::linspace(config.beta_start, config.beta_end, n, at::kFloat);
  } else {
    throw unsupported((config.source.empty() ? "scheduler config" : config.source) + ": beta_schedule '" +
                      config.beta_schedule + "' is not supported (linear, scaled_linear)");
  }
  schedule.alphas_cumprod = at::cumprod(1.0 - schedule.betas, 0);
  return schedule;
}

}  // namespace dmx::sd
