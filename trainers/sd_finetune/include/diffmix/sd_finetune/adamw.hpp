// AdamW (decoupled weight decay) over named tensors, computing what torch.optim.AdamW computes, with a state that
// can be saved and restored exactly (the fine-tuner's checkpoints resume bit for bit):
//
//   AdamW optimizer(params, {5e-5, 0.9, 0.999, 1e-2, 1e-8});
//   loss.backward();
//   clip_gradient_norm(params, 1.0);
//   optimizer.step();
//   optimizer.zero_grad();
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dmx::finetune {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

struct AdamWOptions {
  double learning_rate = 5e-5;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double weight_decay = 1e-2;
  double epsilon = 1e-8;
};

class AdamW {
 public:
  // `params`: leaf tensors with requires_grad, updated in place; names must be unique (they key the saved state).
  AdamW(NamedTensors params, AdamWOptions options);

  // One update from the parameters' current gradients; a parameter without a gradient is left alone.
  void step();
  void zero_grad();

  int64_t step_count() const { return step_; }
  const NamedTensors& params() const { return params_; }

  // The moments as "exp_avg.<name>" / "exp_avg_sq.<name>", on the CPU.
  NamedTensors state() const;
  // The moments themselves, where they live (written in place to copy another process's optimizer).
  std::vector<at::Tensor> moments() const;
  void set_step_count(int64_t step) { step_ = step; }
  // Restores state() output and the step count. A missing tensor or one of another shape is a Format / Shape error
  // naming it and `source`.
  void load_state(const std::map<std::string, at::Tensor>& tensors, int64_t step, const std::string& source);

 private:
  NamedTensors params_;
  std::vector<at::Tensor> exp_avg_, exp_avg_sq_;
  AdamWOptions options_;
  int64_t step_ = 0;
};

// Scales all gradients together so that their global L2 norm is at most `max_norm` (torch's clip_grad_norm_, with its
// 1e-6 guard); returns the norm before clipping.
double clip_gradient_norm(const NamedTensors& params, double max_norm);

}  // namespace dmx::finetune
