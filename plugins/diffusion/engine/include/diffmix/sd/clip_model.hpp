// CLIP with both towers and their projections (transformers' CLIPModel), as used to score synthetic images against
// text prompts (the Diff-Mix CLIP filter):
//
//   auto clip = CLIPModel::load("models/clip-vit-base-patch32");     // config.json + model.safetensors
//   auto out = clip.forward(batch.input_ids, batch.attention_mask, pixel_values);
//   at::Tensor p_with = out.logits_per_image.softmax(-1).select(1, 0);
#pragma once

#include "diffmix/sd/clip_text_model.hpp"
#include "diffmix/sd/clip_vision_model.hpp"

#include <ATen/ATen.h>

#include <optional>
#include <string>

namespace dmx::sd {

struct CLIPOutput {
  at::Tensor logits_per_image;  // [images, texts] = exp(logit_scale) · image_embeds · text_embedsᵀ
  at::Tensor logits_per_text;   // its transpose
  at::Tensor text_embeds;       // [texts, projection_dim], L2-normalised
  at::Tensor image_embeds;      // [images, projection_dim], L2-normalised
};

class CLIPModel {
 public:
  // A transformers CLIPModel folder: config.json (text_config, vision_config, projection_dim) and model.safetensors.
  static CLIPModel load(const std::string& folder, at::ScalarType dtype = at::kFloat, at::Device device = at::kCPU);

  at::Tensor get_text_features(const at::Tensor& input_ids, const at::Tensor& attention_mask = {}) const;
  at::Tensor get_image_features(const at::Tensor& pixel_values) const;  // = CLIPVisionModelWithProjection's embeds
  CLIPOutput forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& pixel_values) const;

  const CLIPTextModel& text_model() const { return *text_model_; }
  const CLIPVisionModel& vision_model() const { return *vision_model_; }
  const at::Tensor& logit_scale() const { return logit_scale_; }  // raw (log) parameter

 private:
  std::optional<CLIPTextModel> text_model_;
  std::optional<CLIPVisionModel> vision_model_;
  std::optional<Linear> text_projection_, visual_projection_;
  at::Tensor logit_scale_;
};

}  // namespace dmx::sd
