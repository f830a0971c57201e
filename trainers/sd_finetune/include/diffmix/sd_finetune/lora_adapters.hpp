// Trainable LoRA adapters on every attention projection of a UNet (to_q, to_k, to_v, to_out.0 of attn1 and attn2):
//
//   auto lora = UNetLora::attach(unet, 10, generator);   // down ~ N(0, 1/r), up = 0: the UNet computes what it did
//   ... optimise lora.parameters() ...
//   lora.save("out/pytorch_lora_weights.safetensors");  // diffusers keys, read back by dmx::sd::LoraWeights
//
// The adapters are shared with the UNet's Linear layers, so updating the parameters in place updates the model.
#pragma once

#include "diffmix/sd/unet_2d_condition.hpp"
#include "diffmix/sd_finetune/adamw.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>

namespace dmx::finetune {

class UNetLora {
 public:
  // Attaches rank-`rank` adapters with scale 1 in the UNet's dtype and device, replacing any attached before. The
  // down weights are drawn from `generator` (a CPU generator, so a seed gives the same adapters on any device).
  static UNetLora attach(sd::UNet2DConditionModel& unet, int64_t rank, at::Generator generator);

  // "unet.<module path>.lora.down.weight" [r, in] and ".lora.up.weight" [out, r], requires_grad, in module order.
  const NamedTensors& parameters() const { return parameters_; }
  int64_t rank() const { return rank_; }
  int64_t num_projections() const { return static_cast<int64_t>(parameters_.size() / 2); }

  // Writes the adapters (float32, CPU) with diffusers' key names and `metadata`.
  void save(const std::string& path, const std::map<std::string, std::string>& metadata = {}) const;

 private:
  NamedTensors parameters_;
  int64_t rank_ = 0;
};

// The diffusers key of an adapter weight: "unet." + module path + ".lora.down.weight" / ".lora.up.weight".
std::string lora_down_key(const std::string& module_path);
std::string lora_up_key(const std::string& module_path);

}  // namespace dmx::finetune
