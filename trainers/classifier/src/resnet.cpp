#include "diffmix/classifier/resnet.hpp"

#include <torch/nn/init.h>

namespace dmx::classifier {
namespace {

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// torchvision's `downsample`: a strided 1×1 convolution and BN, present when the block changes shape.
torch::nn::Sequential make_downsample(int64_t in, int64_t out, int64_t stride) {
  if (stride == 1 && in == out) return nullptr;
  return torch::nn::Sequential(conv(in, out, 1, stride), torch::nn::BatchNorm2d(out));
}

at::Tensor shortcut(torch::nn::Sequential& downsample, const at::Tensor& x) {
  return downsample ? downsample->forward(x) : x;
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_channels, int64_t width, int64_t stride) {
  conv1_ = register_module("conv1", conv(in_channels, width, 3, stride));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(width));
  conv2_ = register_module("conv2", conv(width, width, 3, 1));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(width));
  downsample_ = make_downsample(in_channels, width * kExpansion, stride);
  if (downsample_) register_module("downsample", downsample_);
}

at::Tensor BasicBlockImpl::forward(const at::Tensor& x) {
  auto out = at::relu(bn1_->forward(conv1_->forward(x)));
  out = bn2_->forward(conv2_->forward(out));
  return at::relu(out + shortcut(downsample_, x));
}

BottleneckImpl::BottleneckImpl(int64_t in_channels, int64_t width, int64_t stride) {
  conv1_ = register_module("conv1", conv(in_channels, width, 1, 1));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(width));
  conv2_ = register_module("conv2", conv(width, width, 3, stride));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(width));
  conv3_ = register_module("conv3", conv(width, width * kExpansion, 1, 1));
  bn3_ = register_module("bn3", torch::nn::BatchNorm2d(width * kExpansion));
  downsample_ = make_downsample(in_channels, width * kExpansion, stride);
  if (downsample_) register_module("downsample", downsample_);
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) {
  auto out = at::relu(bn1_->forward(conv1_->forward(x)));
  out = at::relu(bn2_->forward(conv2_->forward(out)));
  out = bn3_->forward(conv3_->forward(out));
  return at::relu(out + shortcut(downsample_, x));
}

ResNet::ResNet(const ResNetShape& shape, int64_t num_classes, int64_t in_channels) {
  conv1_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, 64, 7)
                                                          .stride(2).padding(3).bias(false)));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(64));
  int64_t channels = 64;
  const int64_t widths[4] = {64, 128, 256, 512};
  for (size_t i = 0; i < 4; ++i) {
    const int64_t stride = i == 0 ? 1 : 2;
    stages_[i] = register_module("layer" + std::to_string(i + 1),
                                 make_stage(shape, channels, widths[i], shape.blocks_per_stage[i], stride));
  }
  fc_ = register_module("fc", torch::nn::Linear(channels, num_classes));

  // torchvision's initialisation: He-normal (fan-out) convolutions, BN as identity.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    }
  }
}

torch::nn::Sequential ResNet::make_stage(const ResNetShape& shape, int64_t& in_channels, int64_t width,
                                         int64_t blocks, int64_t stride) {
  torch::nn::Sequential stage;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t block_stride = b == 0 ? stride : 1;
    if (shape.block == ResNetBlock::Basic) {
      stage->push_back(BasicBlock(in_channels, width, block_stride));
      in_channels = width * BasicBlockImpl::kExpansion;
    } else {
      stage->push_back(Bottleneck(in_channels, width, block_stride));
      in_channels = width * BottleneckImpl::kExpansion;
    }
  }
  return stage;
}

at::Tensor ResNet::forward(const at::Tensor& images) {
  auto x = at::relu(bn1_->forward(conv1_->forward(images)));
  x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  for (auto& stage : stages_) x = stage->forward(x);
  x = at::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc_->forward(x);
}

}  // namespace dmx::classifier
