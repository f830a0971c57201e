#include "diffmix/classifier/lr_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "diffmix/error.hpp"

namespace dmx::classifier {

CosineWarmupSchedule::CosineWarmupSchedule(double base_lr, int64_t total_steps, int64_t warmup_steps, double final_lr)
    : base_lr_(base_lr), total_steps_(total_steps), warmup_steps_(warmup_steps), final_lr_(final_lr) {
  if (total_steps < 1 || warmup_steps < 0 || warmup_steps > total_steps)
    throw invalid_argument("learning-rate schedule needs total_steps >= 1 and 0 <= warmup_steps <= total_steps, got "
                           "total_steps " + std::to_string(total_steps) + ", warmup_steps " +
                           std::to_string(warmup_steps));
  if (!(base_lr > 0.0) || final_lr < 0.0 || final_lr > base_lr)
    throw invalid_argument("learning-rate schedule needs base_lr > 0 and 0 <= final_lr <= base_lr, got base_lr " +
                           std::to_string(base_lr) + ", final_lr " + std::to_string(final_lr));
}

double CosineWarmupSchedule::lr(int64_t step) const {
  step = std::clamp<int64_t>(step, 0, total_steps_ - 1);
  if (step < warmup_steps_) return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  const int64_t decay_steps = total_steps_ - warmup_steps_;
  const double progress = static_cast<double>(step - warmup_steps_) / static_cast<double>(decay_steps);
  return final_lr_ + (base_lr_ - final_lr_) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace dmx::classifier
