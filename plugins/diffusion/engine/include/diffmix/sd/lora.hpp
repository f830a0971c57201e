// LoRA for the UNet's attention projections (to_q, to_k, to_v, to_out.0 of every attn1/attn2), read from the two
// file layouts in use:
//   diffusers (save_lora_weights / PEFT):  unet.<module path>.lora.down.weight [r, in], .lora.up.weight [out, r]
//                                          (or .lora_A.weight / .lora_B.weight); no alpha stored: alpha = r
//   kohya (sd-scripts, A1111):             lora_unet_<module path with '_'>.lora_down.weight, .lora_up.weight, .alpha
// Each projection then computes W x + b + scale * (alpha / r) * up(down(x)).
//
//   auto lora = dmx::sd::LoraWeights::load("pytorch_lora_weights.safetensors");
//   dmx::sd::apply_lora(unet, lora, 1.0);
//   dmx::sd::merge_lora(unet);   // optional: fold into W for speed; unmerge_lora restores W
#pragma once

#include "diffmix/sd/unet_2d_condition.hpp"

#include <ATen/ATen.h>

#include <map>
#include <string>

namespace dmx::sd {

// One projection's adapter.
struct LoraAdapter {
  at::Tensor down;  // [r, in]
  at::Tensor up;    // [out, r]
  double alpha_over_rank = 1.0;
  std::string down_key;  // the file's key names, for error messages
  std::string up_key;
};

class LoraWeights {
 public:
  // Reads a LoRA safetensors file in either layout. Malformed content (an up without its down, ranks that disagree,
  // a non-scalar alpha, text-encoder keys) is a dmx::Error naming the key and the file.
  static LoraWeights load(const std::string& path);

  const std::string& source() const { return source_; }
  // Keyed by the UNet module path ("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q") for the diffusers
  // layout, or by the kohya stem ("lora_unet_down_blocks_0_..._attn1_to_q") for kohya files, which are matched to
  // module paths only against a UNet (underscores in kohya names are ambiguous on their own).
  const std::map<std::string, LoraAdapter>& adapters() const { return adapters_; }
  bool kohya_layout() const { return kohya_; }

 private:
  std::string source_;
  std::map<std::string, LoraAdapter> adapters_;
  bool kohya_ = false;
};

// Attaches every adapter to its projection (replacing any attached before), scaled by `scale` * alpha / r, in the
// UNet's dtype and device. An adapter for a module the UNet does not have, or whose shapes do not fit the
// projection, is a dmx::Error naming the key; the UNet is left unchanged then.
void apply_lora(UNet2DConditionModel& unet, const LoraWeights& lora, double scale = 1.0);

// Detaches all adapters (unmerging merged ones first).
void remove_lora(UNet2DConditionModel& unet);

// Folds the attached adapters into the projection weights (faster inference), and back.
void merge_lora(UNet2DConditionModel& unet);
void unmerge_lora(UNet2DConditionModel& unet);

}  // namespace dmx::sd
