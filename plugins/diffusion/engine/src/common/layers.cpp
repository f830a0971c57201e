#include "diffmix/sd/layers.hpp"

#include "diffmix/error.hpp"

#include <utility>

namespace dmx::sd {
namespace {

// Under autocast a lower-precision activation meets float32 normalisation parameters: normalising in the
// parameters' dtype is what CUDA autocast does for group_norm and layer_norm, and LibTorch 1.13's CPU kernels reject
// mixed dtypes.
at::Tensor in_dtype_of(const at::Tensor& x, const at::Tensor& weight) {
  return x.scalar_type() == weight.scalar_type() ? x : x.to(weight.scalar_type());
}

}  // namespace

Linear Linear::load(StateDict& weights, const std::string& prefix, int64_t in_features, int64_t out_features,
                    bool bias) {
  auto weight = weights.take(prefix + ".weight", {out_features, in_features});
  return Linear(std::move(weight), bias ? weights.take(prefix + ".bias", {out_features}) : at::Tensor());
}

Linear::Linear(at::Tensor weight, at::Tensor bias) : weight_(std::move(weight)), bias_(std::move(bias)) {}

at::Tensor Linear::forward(const at::Tensor& x) const {
  auto y = at::linear(x, weight_, bias_);
  if (has_lora() && !merged()) y = y + lora_scale_ * at::linear(at::linear(x, lora_down_), lora_up_);
  return y;
}

void Linear::set_lora(at::Tensor down, at::Tensor up, double scale) {
  if (down.dim() != 2 || up.dim() != 2 || down.size(1) != in_features() || up.size(0) != out_features() ||
      up.size(1) != down.size(0)) {
    throw dmx::shape_error("LoRA adapter down " + c10::str(down.sizes()) + " / up " + c10::str(up.sizes()) +
                           " does not fit a linear layer of weight " + c10::str(weight_.sizes()) + ": expected [r, " +
                           std::to_string(in_features()) + "] and [" + std::to_string(out_features()) + ", r]");
  }
  unmerge();
  lora_down_ = std::move(down);
  lora_up_ = std::move(up);
  lora_scale_ = scale;
}

void Linear::clear_lora() {
  unmerge();
  lora_down_ = at::Tensor();
  lora_up_ = at::Tensor();
  lora_scale_ = 0.0;
}

void Linear::merge() {
  if (!has_lora() || merged()) return;
  original_weight_ = weight_;
  // Computed in float so that a half-precision weight does not lose the small update.
  const auto delta = at::matmul(lora_up_.to(at::kFloat), lora_down_.to(at::kFloat)) * lora_scale_;
  weight_ = (weight_.to(at::kFloat) + delta.to(weight_.device())).to(weight_.scalar_type());
}

void Linear::unmerge() {
  if (!merged()) return;
  weight_ = std::move(original_weight_);
  original_weight_ = at::Tensor();
}

Conv2d Conv2d::load(StateDict& weights, const std::string& prefix, int64_t in_channels, int64_t out_channels,
                    int64_t kernel_size, int64_t stride, int64_t padding, bool bias) {
  auto weight = weights.take(prefix + ".weight", {out_channels, in_channels, kernel_size, kernel_size});
  return Conv2d(std::move(weight), bias ? weights.take(prefix + ".bias", {out_channels}) : at::Tensor(), stride,
                padding);
}

Conv2d::Conv2d(at::Tensor weight, at::Tensor bias, int64_t stride, int64_t padding)
    : weight_(std::move(weight)), bias_(std::move(bias)), stride_(stride), padding_(padding) {}

at::Tensor Conv2d::forward(const at::Tensor& x) const {
  return at::conv2d(x, weight_, bias_, {stride_, stride_}, {padding_, padding_});
}

GroupNorm GroupNorm::load(StateDict& weights, const std::string& prefix, int64_t groups, int64_t channels,
                          double eps) {
  if (groups <= 0 || channels % groups != 0) {
    throw dmx::config_error(weights.source() + ": '" + prefix + "': " + std::to_string(channels) +
                            " channels cannot be split into " + std::to_string(groups) + " groups");
  }
  auto weight = weights.take(prefix + ".weight", {channels});
  return GroupNorm(std::move(weight), weights.take(prefix + ".bias", {channels}), groups, eps);
}

GroupNorm::GroupNorm(at::Tensor weight, at::Tensor bias, int64_t groups, double eps)
    : weight_(std::move(weight)), bias_(std::move(bias)), groups_(groups), eps_(eps) {}

at::Tensor GroupNorm::forward(const at::Tensor& x) const {
  return at::group_norm(in_dtype_of(x, weight_), groups_, weight_, bias_, eps_);
}

LayerNorm LayerNorm::load(StateDict& weights, const std::string& prefix, int64_t dim, double eps) {
  auto weight = weights.take(prefix + ".weight", {dim});
  return LayerNorm(std::move(weight), weights.take(prefix + ".bias", {dim}), eps);
}

LayerNorm::LayerNorm(at::Tensor weight, at::Tensor bias, double eps)
    : weight_(std::move(weight)), bias_(std::move(bias)), eps_(eps) {}

at::Tensor LayerNorm::forward(const at::Tensor& x) const {
  return at::layer_norm(in_dtype_of(x, weight_), {weight_.size(0)}, weight_, bias_, eps_);
}

}  // namespace dmx::sd
