#include "diffmix/sd_finetune/loss_scaler.hpp"

#include "diffmix/error.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace dmx::finetune {

LossScaler::LossScaler(LossScalerOptions options) : options_(options) { state_.scale = options_.init_scale; }

at::Tensor LossScaler::scale(const at::Tensor& loss) const { return loss * state_.scale; }

bool LossScaler::unscale(const NamedTensors& params) const {
  at::NoGradGuard no_grad;
  // GradScaler multiplies by the float32 reciprocal; for a power-of-two scale both are exact.
  const double inverse = static_cast<double>(static_cast<float>(1.0 / state_.scale));
  std::vector<at::Tensor> all_finite;
  for (const auto& [name, param] : params) {
    auto grad = param.grad();
    if (!grad.defined()) continue;
    grad.mul_(inverse);
    all_finite.push_back(at::isfinite(grad).all());
  }
  // One device-to-host transfer for all gradients.
  return all_finite.empty() || at::stack(all_finite).all().item<bool>();
}

void LossScaler::update(bool found_inf) {
  if (found_inf) {
    state_.scale *= options_.backoff_factor;
    state_.growth_tracker = 0;
    return;
  }
  if (++state_.growth_tracker < options_.growth_interval) return;
  const double grown = state_.scale * options_.growth_factor;
  if (grown <= std::numeric_limits<float>::max()) state_.scale = grown;
  state_.growth_tracker = 0;
}

bool LossScaler::step(AdamW& optimizer, double max_grad_norm) {
  const bool finite = unscale(optimizer.params());
  if (finite) {
    clip_gradient_norm(optimizer.params(), max_grad_norm);
    optimizer.step();
  }
  optimizer.zero_grad();
  update(!finite);
  return finite;
}

void LossScaler::load_state(const LossScalerState& state, const std::string& source) {
  if (!std::isfinite(state.scale) || state.scale <= 0.0 || state.growth_tracker < 0) {
    throw dmx::format_error(source + ": loss scale " + std::to_string(state.scale) + " with growth tracker " +
                            std::to_string(state.growth_tracker) +
                            " is not a positive finite scale and a non-negative count");
  }
  state_ = state;
}

}  // namespace dmx::finetune
