// Classifier: the interface every network the trainer can train implements, and the factory that builds one by name.
//
//   auto model = dmx::classifier::make_classifier({"resnet50", /*num_classes=*/200, /*in_channels=*/3});
//   at::Tensor logits = model->forward(images);          // N×C×H×W float -> N×K
//
// Parameter and buffer names follow torchvision for the CNNs (conv1, bn1, layer1.0.downsample.0, fc, ...) and timm for
// the Vision Transformers (cls_token, pos_embed, blocks.0.attn.qkv, head, ...), so their state dicts saved as
// safetensors load with load_pretrained() below or load_weights() (weights.hpp).
#pragma once

#include <torch/nn/module.h>

#include "diffmix/classifier/weights.hpp"

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
  // Fits a pretrained tensor that was made for another input size to this network (a ViT's position embedding);
  // an undefined tensor when `name` has no such rule, which is what the CNNs answer for every name.
  virtual at::Tensor fit_pretrained_tensor(const std::string& name, const at::Tensor& stored) const;
  // How a pretrained file whose tensors are `file_names` names this network's tensors, when it follows another
  // library's convention (torchvision's ViT); empty when the file uses the network's own names.
  virtual NameInFile pretrained_names(const std::vector<std::string>& file_names) const;
};

struct ModelSpec {
  std::string architecture = "small_cnn";  // one of classifier_architectures()
  int64_t num_classes = 10;
  int64_t in_channels = 3;
  // Side of the square input images in pixels. It fixes a Vision Transformer's number of patches (a multiple of its
  // patch size); the CNNs take any size and ignore it.
  int64_t image_size = 224;
};

std::vector<std::string> classifier_architectures();

// Builds a freshly initialised network; the initial weights come from LibTorch's default generator, so seed it
// (at::manual_seed) first for a reproducible start. An unknown architecture is an invalid_argument error listing the
// known ones.
std::shared_ptr<Classifier> make_classifier(const ModelSpec& spec);

// Loads pretrained weights (torchvision / timm names) into everything but the head, fitting tensors made for another
// input size with fit_pretrained_tensor (a ViT trained at 224 px fine-tuned at 384 px) and finding them under the
// names pretrained_names gives. Any other missing, mis-shaped
// or unused tensor is an error naming it and the file (load_weights).
void load_pretrained(Classifier& model, const std::string& path);

}  // namespace dmx::classifier
