// DDPMScheduler: forward noising and training targets.
#include "diffmix/sd/scheduling_ddpm.hpp"

#include "diffmix/error.hpp"

#include <utility>

namespace dmx::sd {

DDPMScheduler::DDPMScheduler(SchedulerConfig config)
    : config_(std::move(config)), schedule_(NoiseSchedule::from_config(config_)) {}

DDPMScheduler DDPMScheduler::load(const std::string& folder) {
  return DDPMScheduler(SchedulerConfig::load_from_folder(folder));
}

std::pair<at::Tensor, at::Tensor> DDPMScheduler::signal_and_noise_scales(const at::Tensor& timesteps,
                                                                         const at::Tensor& like) const {
  const int64_t batch = like.dim() > 0 ? like.size(0) : 0;
  if (batch == 0 || timesteps.dim() != 1 || timesteps.size(0) != batch || at::isFloatingType(timesteps.scalar_type()))
    throw shape_error("DDPMScheduler: timesteps must be an integer tensor [B] with B = " + std::to_string(batch) +
                      " (the batch), got " + std::string(timesteps.toString()) + " of shape " +
                      c10::str(timesteps.sizes()));
  const auto t = timesteps.to(at::kCPU, at::kLong);
  if (t.numel() > 0 && (t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= num_train_timesteps()))
    throw invalid_argument("DDPMScheduler: timesteps must lie in [0, " + std::to_string(num_train_timesteps()) +
                           "), got " + c10::str(t));
  // As diffusers: the schedule is cast to the sample's dtype first, then the square roots are taken.
  const auto acp = schedule_.alphas_cumprod.index_select(0, t).to(like.device(), like.scalar_type());
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return {acp.pow(0.5).reshape(shape), (1.0 - acp).pow(0.5).reshape(shape)};
}

namespace {

void require_same_shape(const at::Tensor& x0, const at::Tensor& noise) {
  if (!x0.sizes().equals(noise.sizes()))
    throw shape_error("DDPMScheduler: samples " + c10::str(x0.sizes()) + " and noise " + c10::str(noise.sizes()) +
                      " must have the same shape");
}

}  // namespace

at::Tensor DDPMScheduler::add_noise(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& timesteps) const {
  require_same_shape(x0, noise);
  const auto [signal, noise_scale] = signal_and_noise_scales(timesteps, x0);
  return signal * x0 + noise_scale * noise;
}

at::Tensor DDPMScheduler::velocity(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& timesteps) const {
  require_same_shape(x0, noise);
  const auto [signal, noise_scale] = signal_and_noise_scales(timesteps, x0);
  return signal * noise - noise_scale * x0;
}

at::Tensor DDPMScheduler::training_target(const at::Tensor& x0, const at::Tensor& noise,
                                          const at::Tensor& timesteps) const {
  if (config_.prediction_type == "epsilon") return noise;
  if (config_.prediction_type == "v_prediction") return velocity(x0, noise, timesteps);
  return x0;  // "sample"
}

}  // namespace dmx::sd
