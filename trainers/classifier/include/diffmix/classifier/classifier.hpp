// Classifier: the interface every network the trainer can train implements, and the factory that builds one by name.
//
//   auto model = dmx::classifier::make_classifier({"resnet50", /*num_classes=*/200, /*in_channels=*/3});
//   at::Tensor logits = model->forward(images);          // N×C×H×W float -> N×K
//
// Parameter and buffer names follow torchvision (conv1, bn1, layer1.0.downsample.0, fc, ...), so a torchvision
// state dict saved as safetensors loads with load_weights() (weights.hpp).
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dmx::classifier {

class Classifier : public torch::nn::Module {
 public:
  // Logits N×K for images N×C×H×W.
  virtual at::Tensor forward(const at::Tensor& images) = 0;
  // Name prefix of the classification head ("fc."): its size follows the class count, so pretrained backbone
  // weights are loaded without it.
  virtual std::string head_prefix() const = 0;
};

struct ModelSpec {
  std::string architecture = "small_cnn";  // one of classifier_architectures()
  int64_t num_classes = 10;
  int64_t in_channels = 3;
};

std::vector<std::string> classifier_architectures();

// Builds a freshly initialised network; the initial weights come from LibTorch's default generator, so seed it
// (at::manual_seed) first for a reproducible start. An unknown architecture is an invalid_argument error listing the
// known ones.
std::shared_ptr<Classifier> make_classifier(const ModelSpec& spec);

}  // namespace dmx::classifier
