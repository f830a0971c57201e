#include "diffmix/classifier/sgd.hpp"

#include <sstream>

#include "diffmix/error.hpp"

namespace dmx::classifier {

MomentumSgd::MomentumSgd(std::vector<std::pair<std::string, at::Tensor>> named_parameters, const SgdOptions& options)
    : parameters_(std::move(named_parameters)), options_(options) {}

void MomentumSgd::step(double lr) {
  at::NoGradGuard no_grad;
  for (auto& [name, parameter] : parameters_) {
    const at::Tensor& grad = parameter.grad();
    if (!grad.defined()) continue;
    at::Tensor direction = options_.weight_decay != 0.0 ? grad.add(parameter, options_.weight_decay) : grad;
    if (options_.momentum != 0.0) {
      auto found = buffers_.find(name);
      if (found == buffers_.end()) {
        found = buffers_.emplace(name, direction.clone().detach()).first;
      } else {
        found->second.mul_(options_.momentum).add_(direction);
      }
      direction = found->second;
    }
    parameter.add_(direction, -lr);
  }
}

void MomentumSgd::zero_grad() {
  for (auto& [name, parameter] : parameters_) {
    at::Tensor grad = parameter.mutable_grad();
    if (grad.defined()) grad.zero_();
  }
}

void MomentumSgd::load_momentum_buffers(const std::map<std::string, at::Tensor>& buffers) {
  std::map<std::string, at::Tensor> loaded;
  for (const auto& [name, buffer] : buffers) {
    const at::Tensor* parameter = nullptr;
    for (const auto& [parameter_name, p] : parameters_)
      if (parameter_name == name) parameter = &p;
    if (!parameter) throw shape_error("momentum buffer '" + name + "' has no parameter of that name");
    if (!buffer.sizes().equals(parameter->sizes())) {
      std::ostringstream message;
      message << "momentum buffer '" << name << "' has shape " << buffer.sizes() << ", its parameter "
              << parameter->sizes();
      throw shape_error(message.str());
    }
    loaded[name] = buffer.to(parameter->device(), parameter->scalar_type()).clone();
  }
  buffers_ = std::move(loaded);
}

}  // namespace dmx::classifier
