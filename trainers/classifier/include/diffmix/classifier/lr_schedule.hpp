// Learning rate per optimizer step: linear warm-up from 0 to the base rate, then cosine decay to `final_lr`.
//
//   lr(s) = base · (s + 1) / warmup                                   for s < warmup
//   lr(s) = final + (base − final) · ½ (1 + cos(π · (s − warmup) / (total − warmup)))   afterwards
//
// A pure function of the step, so a resumed run needs no schedule state.
#pragma once

#include <cstdint>

namespace dmx::classifier {

class CosineWarmupSchedule {
 public:
  // total_steps >= 1, 0 <= warmup_steps <= total_steps; otherwise an invalid-argument error naming the values.
  CosineWarmupSchedule(double base_lr, int64_t total_steps, int64_t warmup_steps, double final_lr = 0.0);

  double lr(int64_t step) const;

  double base_lr() const { return base_lr_; }
  int64_t total_steps() const { return total_steps_; }
  int64_t warmup_steps() const { return warmup_steps_; }

 private:
  double base_lr_;
  int64_t total_steps_;
  int64_t warmup_steps_;
  double final_lr_;
};

}  // namespace dmx::classifier
