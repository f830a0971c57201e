// The weights of one model component, looked up by their diffusers / transformers parameter names.
//
//   auto weights = StateDict::load(folder + "/unet/diffusion_pytorch_model.safetensors");
//   auto w = weights.take("conv_in.weight", {320, 4, 3, 3});   // missing or mis-shaped: a dmx::Error naming both
//   ...
//   weights.expect_all_taken();                                 // a weight the model did not use is an error too
//
// Consuming each weight by name is what turns "the config and the file disagree" into an error instead of a model that
// silently ignores part of its file.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace dmx::sd {

// The name of the i-th module of a list in a state dict: child_name("up_blocks.1", "resnets", 2) is
// "up_blocks.1.resnets.2", as PyTorch names the entries of an nn.ModuleList.
std::string child_name(const std::string& prefix, const char* list, size_t i);

class StateDict {
 public:
  static StateDict load(const std::string& safetensors_path);  // every tensor of the file, on the CPU
  // From tensors already in memory; `source` names them in error messages.
  StateDict(std::map<std::string, at::Tensor> tensors, std::string source);

  // The named weight, which must have `expected_shape`: a NotFound / Shape error naming the weight, the file and both
  // shapes otherwise. A taken weight can be taken again (tied weights).
  at::Tensor take(const std::string& name, at::IntArrayRef expected_shape);
  at::Tensor take(const std::string& name);  // any shape
  bool has(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted

  // Converts every floating-point weight (integer buffers keep their type) to `dtype` on `device`.
  void to(at::ScalarType dtype, at::Device device);

  // A Format error listing the weights nobody took (the first few) and the file.
  void expect_all_taken() const;
  const std::string& source() const;

 private:
  std::map<std::string, at::Tensor> tensors_;
  std::set<std::string> taken_;
  std::string source_;
};

// While alive, StateDict::load(path) on this thread hands out `tensors` themselves instead of copies read from the
// file at `path` (which must still exist: the loaders look for it). A trainer builds a model around tensors it owns,
// so that updating them in place (an optimizer step) updates the model. Loading is unchanged when no scope is alive.
//
//   SharedWeightsScope share(folder + "/unet/diffusion_pytorch_model.safetensors", parameters);
//   auto unet = UNet2DConditionModel::load(folder);   // its layers hold `parameters`
class SharedWeightsScope {
 public:
  SharedWeightsScope(std::string safetensors_path, std::map<std::string, at::Tensor> tensors);
  ~SharedWeightsScope();
  SharedWeightsScope(const SharedWeightsScope&) = delete;
  SharedWeightsScope& operator=(const SharedWeightsScope&) = delete;

 private:
  std::string key_;
};

}  // namespace dmx::sd
