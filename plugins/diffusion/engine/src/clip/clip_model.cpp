#include "diffmix/sd/clip_model.hpp"

#include "diffmix/error.hpp"
#include "diffmix/sd/model_folder.hpp"

namespace dmx::sd {

namespace {

at::Tensor l2_normalize(const at::Tensor& x) { return x / x.norm(2, {-1}, true); }

}  // namespace

CLIPModel CLIPModel::load(const std::string& folder, at::ScalarType dtype, at::Device device) {
  const auto config = ConfigFile::open(folder + "/config.json");
  const auto text_config = CLIPTextConfig::read(config.section("text_config"));
  const auto vision_config = CLIPVisionConfig::read(config.section("vision_config"));
  const auto projection_dim = config.integer("projection_dim", 512);

  const std::string weights_path = folder + "/model.safetensors";
  auto weights = StateDict::load(weights_path);
  weights.to(dtype, device);
  CLIPModel model;
  model.text_model_ = CLIPTextModel::load(weights, "text_model", text_config);
  model.vision_model_ = CLIPVisionModel::load(weights, "vision_model", vision_config);
  model.text_projection_ =
      Linear::load(weights, "text_projection", text_config.encoder.hidden_size, projection_dim, false);
  model.visual_projection_ =
      Linear::load(weights, "visual_projection", vision_config.encoder.hidden_size, projection_dim, false);
  model.logit_scale_ = weights.take("logit_scale");
  if (model.logit_scale_.numel() != 1) {
    throw dmx::shape_error(weights_path + ": weight 'logit_scale' must hold one value, got shape " +
                           c10::str(model.logit_scale_.sizes()));
  }
  // Older transformers checkpoints store the position-id buffers; they are always 0..L-1.
  for (const char* buffer : {"text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"}) {
    if (weights.has(buffer)) weights.take(buffer);
  }
  weights.expect_all_taken();
  return model;
}

at::Tensor CLIPModel::get_text_features(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
  return text_projection_->forward(text_model_->forward(input_ids, attention_mask).pooler_output);
}

at::Tensor CLIPModel::get_image_features(const at::Tensor& pixel_values) const {
  return visual_projection_->forward(vision_model_->forward(pixel_values).pooler_output);
}

CLIPOutput CLIPModel::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                              const at::Tensor& pixel_values) const {
  CLIPOutput out;
  out.image_embeds = l2_normalize(get_image_features(pixel_values));
  out.text_embeds = l2_normalize(get_text_features(input_ids, attention_mask));
  out.logits_per_text = at::matmul(out.text_embeds, out.image_embeds.t()) * logit_scale_.exp();
  out.logits_per_image = out.logits_per_text.t();
  return out;
}

}  // namespace dmx::sd
