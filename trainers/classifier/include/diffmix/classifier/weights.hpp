// Model weights as safetensors files keyed by the module's parameter and buffer names — for the networks here,
// torchvision's names, so a torchvision state dict converted with
//   safetensors.torch.save_file(torchvision.models.resnet50(weights=...).state_dict(), "resnet50.safetensors")
// loads unchanged.
#pragma once

#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace dmx::classifier {

// Every parameter and buffer of `module` by its dotted name ("layer1.0.conv1.weight", "bn1.running_mean").
std::map<std::string, at::Tensor> named_state(const torch::nn::Module& module);

// Fits a stored tensor whose shape differs from the module's to the module (a ViT's position embedding made for
// another image size is resampled). Returns an undefined tensor when it has no rule for `name`; the mismatch is then
// the usual shape error, as it is when the returned tensor still does not fit.
using TensorAdapter = std::function<at::Tensor(const std::string& name, const at::Tensor& stored)>;

// The name a module tensor has in a file written with another library's names (torchvision's ViT calls timm's
// "blocks.0.norm1.weight" "encoder.layers.encoder_layer_0.ln_1.weight").
using NameInFile = std::function<std::string(const std::string& module_name)>;

struct LoadWeightsOptions {
  // Names starting with one of these are neither required nor loaded (e.g. "fc." for a pretrained backbone whose
  // head has another class count).
  std::vector<std::string> skip_prefixes;
  // Keys in the file that the module does not have are an error unless true.
  bool allow_unused = false;
  // Called for every tensor whose shape differs from the module's; empty: shapes must match exactly.
  TensorAdapter adapt;
  // Where each module tensor is found in the file; empty: under its own name. skip_prefixes apply to module names.
  NameInFile name_in_file;
};

// Copies the file's tensors into the module (converted to each tensor's dtype and device). A missing key, a
// mis-shaped tensor that options.adapt does not fit or (unless allowed) an unused key is a dmx::Error naming the key,
// both shapes and the file; `num_batches_tracked` may be absent. The module is left unchanged when an error is thrown.
void load_weights(torch::nn::Module& module, const std::string& path, const LoadWeightsOptions& options = {});

// Writes named_state(module) atomically.
void save_weights(const torch::nn::Module& module, const std::string& path);

}  // namespace dmx::classifier
