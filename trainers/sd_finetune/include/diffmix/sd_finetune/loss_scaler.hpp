// Dynamic loss scaling for float16 training, with torch.cuda.amp.GradScaler's rules and defaults. Float16 gradients
// of small losses underflow to zero; multiplying the loss by a large power of two before backward keeps them
// representable, and dividing the float32 gradients by it afterwards is exact. When a step overflows (an inf or nan
// gradient) its update is skipped and the scale halves; after `growth_interval` clean steps in a row it doubles.
//
//   LossScaler scaler;
//   scaler.scale(loss).backward();
//   bool applied = scaler.step(optimizer, max_grad_norm);  // unscale, check, clip, AdamW step, zero_grad, update
#pragma once

#include "diffmix/sd_finetune/adamw.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace dmx::finetune {

struct LossScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

// What a checkpoint keeps of a LossScaler: enough for a resumed run to scale exactly as the uninterrupted one.
struct LossScalerState {
  double scale = 65536.0;
  int64_t growth_tracker = 0;  // clean steps in a row since the scale last changed
};

class LossScaler {
 public:
  explicit LossScaler(LossScalerOptions options = {});

  // `loss` × the current scale, for backward.
  at::Tensor scale(const at::Tensor& loss) const;
  // Divides every gradient of `params` by the scale, in place; returns false when any of them holds an inf or nan.
  bool unscale(const NamedTensors& params) const;
  // Records the outcome of one step: an overflow multiplies the scale by backoff_factor and restarts the count;
  // `growth_interval` clean steps in a row multiply it by growth_factor (unless that would overflow float32).
  void update(bool found_inf);

  // One whole optimizer step on scaled gradients: unscale; when all are finite, clip to `max_grad_norm` (<= 0: no
  // clipping) and step `optimizer`, else leave the parameters and the optimizer state (and its step count) as they
  // are. The gradients are zeroed and the scale updated either way. Returns whether the update was applied.
  bool step(AdamW& optimizer, double max_grad_norm);

  double current_scale() const { return state_.scale; }
  const LossScalerState& state() const { return state_; }
  // `source` names the checkpoint in the error for a scale that is not a positive finite number.
  void load_state(const LossScalerState& state, const std::string& source);

 private:
  LossScalerOptions options_;
  LossScalerState state_;
};

}  // namespace dmx::finetune
