// DPM-Solver++ multistep (Lu et al. 2022), deterministic, orders 1 and 2, following diffusers 0.27.2 step by step.
// The per-step scalars are float32, as diffusers computes them from its float32 sigma table, so that the latents
// match to float precision.
#include "diffmix/sd/scheduling_dpmsolver_multistep.hpp"

#include "diffmix/error.hpp"

#include <cmath>
#include <utility>

namespace dmx::sd {
namespace {

// numpy's round(): halves go to the even neighbour.
int64_t round_half_even(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

}  // namespace

DPMSolverMultistepScheduler::DPMSolverMultistepScheduler(SchedulerConfig config)
    : config_(std::move(config)), schedule_(NoiseSchedule::from_config(config_)) {}

DPMSolverMultistepScheduler DPMSolverMultistepScheduler::load(const std::string& folder) {
  return DPMSolverMultistepScheduler(SchedulerConfig::load_from_folder(folder));
}

float DPMSolverMultistepScheduler::AlphaSigma::lambda() const { return std::log(alpha) - std::log(sigma); }

DPMSolverMultistepScheduler::AlphaSigma DPMSolverMultistepScheduler::alpha_sigma(int64_t sigma_index) const {
  const float sigma = sigmas_.at(static_cast<size_t>(sigma_index));
  const float alpha = 1.0f / std::sqrt(sigma * sigma + 1.0f);
  return {alpha, sigma * alpha};
}

void DPMSolverMultistepScheduler::set_timesteps(int64_t num_inference_steps) {
  const int64_t train_steps = config_.num_train_timesteps;
  if (num_inference_steps < 1 || num_inference_steps > train_steps)
    throw invalid_argument("DPMSolverMultistepScheduler: num_inference_steps must be in [1, " +
                           std::to_string(train_steps) + "], got " + std::to_string(num_inference_steps));
  // Timesteps whose log-SNR falls below lambda_min_clipped are never used (none when it is -inf).
  const auto alpha_t = schedule_.alphas_cumprod.sqrt();
  const auto sigma_t = (1.0 - schedule_.alphas_cumprod).sqrt();
  const auto lambda_t = alpha_t.log() - sigma_t.log();
  const int64_t clipped = (lambda_t < config_.lambda_min_clipped).sum().item<int64_t>();
  const int64_t last_timestep = train_steps - clipped;

  const int64_t n = num_inference_steps;
  timesteps_.clear();
  if (config_.timestep_spacing == "linspace") {
    // round(linspace(0, last - 1, n + 1))[::-1][:-1]
    const double step = static_cast<double>(last_timestep - 1) / static_cast<double>(n);
    for (int64_t i = n; i >= 1; --i)
      timesteps_.push_back(i == n ? last_timestep - 1 : round_half_even(static_cast<double>(i) * step));
  } else if (config_.timestep_spacing == "leading") {
    const int64_t ratio = last_timestep / (n + 1);
    for (int64_t i = n; i >= 1; --i) timesteps_.push_back(i * ratio + config_.steps_offset);
  } else {  // trailing: round(arange(last, 0, -train_steps / n)) - 1
    const double ratio = static_cast<double>(train_steps) / static_cast<double>(n);
    for (int64_t i = 0; static_cast<double>(last_timestep) - static_cast<double>(i) * ratio > 0.0; ++i)
      timesteps_.push_back(round_half_even(static_cast<double>(last_timestep) - static_cast<double>(i) * ratio) - 1);
  }

  const auto all_sigmas = ((1.0 - schedule_.alphas_cumprod) / schedule_.alphas_cumprod).pow(0.5).contiguous();
  const float* sigma_of = all_sigmas.data_ptr<float>();
  sigmas_.clear();
  for (const int64_t t : timesteps_) sigmas_.push_back(sigma_of[t]);
  sigmas_.push_back(config_.final_sigmas_type == "zero" ? 0.0f : sigma_of[0]);

  model_outputs_.assign(static_cast<size_t>(config_.solver_order), at::Tensor());
  lower_order_nums_ = 0;
  step_index_.reset();
  begin_index_.reset();
}

void DPMSolverMultistepScheduler::require_timesteps(const char* what) const {
  if (timesteps_.empty())
    throw invalid_argument(std::string("DPMSolverMultistepScheduler::") + what + " called before set_timesteps");
}

void DPMSolverMultistepScheduler::set_begin_index(int64_t index) {
  require_timesteps("set_begin_index");
  if (index < 0 || index >= static_cast<int64_t>(timesteps_.size()))
    throw invalid_argument("DPMSolverMultistepScheduler: begin index " + std::to_string(index) +
                           " is outside the schedule of " + std::to_string(timesteps_.size()) + " timesteps");
  begin_index_ = index;
}

int64_t DPMSolverMultistepScheduler::index_for_timestep(int64_t timestep) const {
  std::vector<int64_t> matches;
  for (size_t i = 0; i < timesteps_.size(); ++i)
    if (timesteps_[i] == timestep) matches.push_back(static_cast<int64_t>(i));
  if (matches.empty())
    throw invalid_argument("DPMSolverMultistepScheduler: timestep " + std::to_string(timestep) +
                           " is not in the schedule set by set_timesteps(" + std::to_string(timesteps_.size()) + ")");
  // A timestep listed twice (possible with few training steps) starts from its second occurrence, as diffusers does.
  return matches.size() > 1 ? matches[1] : matches[0];
}

at::Tensor DPMSolverMultistepScheduler::convert_model_output(const at::Tensor& model_output,
                                                             const at::Tensor& sample) const {
  // DPM-Solver++ works on the predicted clean sample x0.
  const auto [alpha_t, sigma_t] = alpha_sigma(*step_index_);
  if (config_.prediction_type == "epsilon") return (sample - model_output * sigma_t) / alpha_t;
  if (config_.prediction_type == "v_prediction") return sample * alpha_t - model_output * sigma_t;
  return model_output;  // "sample"
}

at::Tensor DPMSolverMultistepScheduler::first_order_update(const at::Tensor& x0_pred, const at::Tensor& sample) const {
  const int64_t i = *step_index_;
  const AlphaSigma s = alpha_sigma(i);
  const AlphaSigma t = alpha_sigma(i + 1);
  const float h = t.lambda() - s.lambda();
  const float sample_coef = t.sigma / s.sigma;
  const float x0_coef = t.alpha * (std::exp(-h) - 1.0f);
  return sample * sample_coef - x0_pred * x0_coef;
}

at::Tensor DPMSolverMultistepScheduler::second_order_update(const at::Tensor& sample) const {
  const int64_t i = *step_index_;
  const AlphaSigma s1 = alpha_sigma(i - 1);
  const AlphaSigma s0 = alpha_sigma(i);
  const AlphaSigma t = alpha_sigma(i + 1);
  const at::Tensor& m0 = model_outputs_[model_outputs_.size() - 1];
  const at::Tensor& m1 = model_outputs_[model_outputs_.size() - 2];
  const float h = t.lambda() - s0.lambda();
  const float h0 = s0.lambda() - s1.lambda();
  const float r0 = h0 / h;
  const at::Tensor d1 = (m0 - m1) * (1.0f / r0);
  const float sample_coef = t.sigma / s0.sigma;
  const float d0_coef = t.alpha * (std::exp(-h) - 1.0f);
  if (config_.solver_type == "midpoint") return sample * sample_coef - m0 * d0_coef - d1 * (0.5f * d0_coef);
  // heun
  const float d1_coef = t.alpha * ((std::exp(-h) - 1.0f) / h + 1.0f);
  return sample * sample_coef - m0 * d0_coef + d1 * d1_coef;
}

at::Tensor DPMSolverMultistepScheduler::step(const at::Tensor& model_output, int64_t timestep,
                                             const at::Tensor& sample) {
  require_timesteps("step");
  if (!model_output.sizes().equals(sample.sizes()))
    throw shape_error("DPMSolverMultistepScheduler::step: model_output " + c10::str(model_output.sizes()) +
                      " and sample " + c10::str(sample.sizes()) + " must have the same shape");
  if (!step_index_) step_index_ = begin_index_ ? *begin_index_ : index_for_timestep(timestep);
  const int64_t n = static_cast<int64_t>(timesteps_.size());
  if (*step_index_ >= n)
    throw invalid_argument("DPMSolverMultistepScheduler::step called more often than the " + std::to_string(n) +
                           " timesteps of the schedule");

  // The last step is first order when it lands on sigma = 0 (or when asked to): the second-order correction
  // would divide by an infinite step in log-SNR.
  const bool last = *step_index_ == n - 1;
  const bool lower_order_final =
      last && (config_.euler_at_final || (config_.lower_order_final && n < 15) || config_.final_sigmas_type == "zero");

  const auto sample32 = sample.to(at::kFloat);
  const auto x0_pred = convert_model_output(model_output.to(at::kFloat), sample32);
  for (size_t k = 0; k + 1 < model_outputs_.size(); ++k) model_outputs_[k] = model_outputs_[k + 1];
  model_outputs_.back() = x0_pred;

  at::Tensor prev_sample;
  if (config_.solver_order == 1 || lower_order_nums_ < 1 || lower_order_final)
    prev_sample = first_order_update(x0_pred, sample32);
  else
    prev_sample = second_order_update(sample32);
  if (lower_order_nums_ < config_.solver_order) ++lower_order_nums_;
  ++*step_index_;
  return prev_sample;
}

at::Tensor DPMSolverMultistepScheduler::add_noise(const at::Tensor& x0, const at::Tensor& noise,
                                                  const at::Tensor& timesteps) const {
  require_timesteps("add_noise");
  if (!x0.sizes().equals(noise.sizes()))
    throw shape_error("DPMSolverMultistepScheduler::add_noise: samples " + c10::str(x0.sizes()) + " and noise " +
                      c10::str(noise.sizes()) + " must have the same shape");
  if (x0.dim() < 1 || timesteps.dim() != 1 || timesteps.size(0) != x0.size(0))
    throw shape_error("DPMSolverMultistepScheduler::add_noise: timesteps must be [B] with B = " +
                      std::to_string(x0.dim() ? x0.size(0) : 0) + ", got " + c10::str(timesteps.sizes()));
  const auto t = timesteps.to(at::kCPU, at::kLong).contiguous();
  std::vector<float> alphas, sigmas;
  for (int64_t b = 0; b < t.size(0); ++b) {
    // The pipelines set a begin index; training-style callers look each timestep up in the schedule.
    const int64_t index =
        !begin_index_ ? index_for_timestep(t[b].item<int64_t>()) : step_index_ ? *step_index_ : *begin_index_;
    const auto [alpha, sigma] = alpha_sigma(index);
    alphas.push_back(alpha);
    sigmas.push_back(sigma);
  }
  std::vector<int64_t> shape(x0.dim(), 1);
  shape[0] = x0.size(0);
  const auto options = at::TensorOptions().dtype(at::kFloat);
  const auto alpha = at::tensor(alphas, options).reshape(shape).to(x0.device(), x0.scalar_type());
  const auto sigma = at::tensor(sigmas, options).reshape(shape).to(x0.device(), x0.scalar_type());
  return alpha * x0 + sigma * noise;
}

}  // namespace dmx::sd
