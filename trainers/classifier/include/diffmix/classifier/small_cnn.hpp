// A small convolutional network that trains on CPU in minutes: three conv-BN-ReLU stages (32, 64, 128 channels),
// max-pooling between them, global average pooling and one linear head. Sized for 28×28 to 64×64 images.
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "diffmix/classifier/classifier.hpp"

namespace dmx::classifier {

class SmallCnn : public Classifier {
 public:
  SmallCnn(int64_t num_classes, int64_t in_channels);
  at::Tensor forward(const at::Tensor& images) override;
  std::string head_prefix() const override { return "fc."; }

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

}  // namespace dmx::classifier
