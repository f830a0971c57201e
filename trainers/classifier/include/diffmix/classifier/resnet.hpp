// ResNet-18 and ResNet-50 as torchvision builds them (v1.5: the stride sits on the 3×3 convolution of a bottleneck),
// with torchvision's module names so that its weights load unchanged:
//   conv1, bn1, layer{1..4}.{i}.conv{1,2[,3]}, .bn{1,2[,3]}, .downsample.0 (1×1 conv), .downsample.1 (BN), fc.
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <array>

#include "diffmix/classifier/classifier.hpp"

namespace dmx::classifier {

// conv3×3 → BN → ReLU → conv3×3 → BN, plus the (downsampled) input. ResNet-18/34's block.
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(int64_t in_channels, int64_t width, int64_t stride);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(BasicBlock);

// conv1×1 → BN → ReLU → conv3×3 (stride) → BN → ReLU → conv1×1 (×4 channels) → BN, plus the input. ResNet-50's block.
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in_channels, int64_t width, int64_t stride);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Bottleneck);

enum class ResNetBlock { Basic, Bottleneck };

struct ResNetShape {
  ResNetBlock block = ResNetBlock::Basic;
  std::array<int64_t, 4> blocks_per_stage{2, 2, 2, 2};
};

class ResNet : public Classifier {
 public:
  ResNet(const ResNetShape& shape, int64_t num_classes, int64_t in_channels);
  at::Tensor forward(const at::Tensor& images) override;
  std::string head_prefix() const override { return "fc."; }

  static ResNetShape resnet18() { return {ResNetBlock::Basic, {2, 2, 2, 2}}; }
  static ResNetShape resnet50() { return {ResNetBlock::Bottleneck, {3, 4, 6, 3}}; }

 private:
  torch::nn::Sequential make_stage(const ResNetShape& shape, int64_t& in_channels, int64_t width, int64_t blocks,
                                   int64_t stride);
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::array<torch::nn::Sequential, 4> stages_{nullptr, nullptr, nullptr, nullptr};
  torch::nn::Linear fc_{nullptr};
};

}  // namespace dmx::classifier
