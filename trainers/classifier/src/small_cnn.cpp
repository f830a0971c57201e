#include "diffmix/classifier/small_cnn.hpp"

namespace dmx::classifier {
namespace {

torch::nn::Conv2d conv3x3(int64_t in, int64_t out) {
  // No bias: the BatchNorm that follows has its own shift.
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
}

}  // namespace

SmallCnn::SmallCnn(int64_t num_classes, int64_t in_channels) {
  conv1_ = register_module("conv1", conv3x3(in_channels, 32));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(32));
  conv2_ = register_module("conv2", conv3x3(32, 64));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(64));
  conv3_ = register_module("conv3", conv3x3(64, 128));
  bn3_ = register_module("bn3", torch::nn::BatchNorm2d(128));
  fc_ = register_module("fc", torch::nn::Linear(128, num_classes));
}

at::Tensor SmallCnn::forward(const at::Tensor& images) {
  auto x = at::max_pool2d(at::relu(bn1_->forward(conv1_->forward(images))), {2, 2});
  x = at::max_pool2d(at::relu(bn2_->forward(conv2_->forward(x))), {2, 2});
  x = at::relu(bn3_->forward(conv3_->forward(x)));
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc_->forward(x);
}

}  // namespace dmx::classifier
