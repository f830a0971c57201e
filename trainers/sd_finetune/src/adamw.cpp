#include "diffmix/sd_finetune/adamw.hpp"

#include "diffmix/error.hpp"

#include <cmath>

namespace dmx::finetune {

AdamW::AdamW(NamedTensors params, AdamWOptions options) : params_(std::move(params)), options_(options) {
  for (const auto& [name, param] : params_) {
    exp_avg_.push_back(at::zeros_like(param));
    exp_avg_sq_.push_back(at::zeros_like(param));
  }
}

void AdamW::step() {
  at::NoGradGuard no_grad;
  ++step_;
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step_));
  const double bias_correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step_));
  const double step_size = options_.learning_rate / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& param = params_[i].second;
    const auto& grad = param.grad();
    if (!grad.defined()) continue;
    // The same operation order as torch.optim.AdamW's single-tensor path.
    param.mul_(1.0 - options_.learning_rate * options_.weight_decay);
    exp_avg_[i].lerp_(grad, 1.0 - options_.beta1);
    exp_avg_sq_[i].mul_(options_.beta2).addcmul_(grad, grad, 1.0 - options_.beta2);
    const auto denom = (exp_avg_sq_[i].sqrt() / bias_correction2_sqrt).add_(options_.epsilon);
    param.addcdiv_(exp_avg_[i], denom, -step_size);
  }
}

void AdamW::zero_grad() {
  for (auto& [name, param] : params_) {
    if (param.grad().defined()) param.mutable_grad() = at::Tensor();
  }
}

NamedTensors AdamW::state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("exp_avg." + params_[i].first, exp_avg_[i].to(at::kCPU));
    out.emplace_back("exp_avg_sq." + params_[i].first, exp_avg_sq_[i].to(at::kCPU));
  }
  return out;
}

std::vector<at::Tensor> AdamW::moments() const {
  std::vector<at::Tensor> out(exp_avg_);
  out.insert(out.end(), exp_avg_sq_.begin(), exp_avg_sq_.end());
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& tensors, int64_t step, const std::string& source) {
  auto fetch = [&](const std::string& key, const at::Tensor& like) {
    const auto found = tensors.find(key);
    if (found == tensors.end()) throw dmx::format_error(source + ": optimizer state '" + key + "' is missing");
    if (!found->second.sizes().equals(like.sizes())) {
      throw dmx::shape_error(source + ": optimizer state '" + key + "' has shape " + c10::str(found->second.sizes()) +
                             ", expected " + c10::str(like.sizes()));
    }
    return found->second.to(like.device(), like.scalar_type());
  };
  std::vector<at::Tensor> exp_avg, exp_avg_sq;
  for (const auto& [name, param] : params_) {
    exp_avg.push_back(fetch("exp_avg." + name, param));
    exp_avg_sq.push_back(fetch("exp_avg_sq." + name, param));
  }
  exp_avg_ = std::move(exp_avg);
  exp_avg_sq_ = std::move(exp_avg_sq);
  step_ = step;
}

double clip_gradient_norm(const NamedTensors& params, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const auto& [name, param] : params) {
    if (param.grad().defined()) norms.push_back(param.grad().norm(2).to(at::kFloat));
  }
  if (norms.empty()) return 0.0;
  const auto total = at::stack(norms).norm(2);
  if (max_norm > 0.0) {
    const auto coefficient = (max_norm / (total + 1e-6)).clamp_max(1.0);
    for (const auto& [name, param] : params) {
      if (param.grad().defined()) param.grad().mul_(coefficient.to(param.grad().device()));
    }
  }
  return total.item<double>();
}

}  // namespace dmx::finetune
