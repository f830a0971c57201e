#include "diffmix/sd/clip_vision_model.hpp"

#include "diffmix/error.hpp"

namespace dmx::sd {

CLIPVisionConfig CLIPVisionConfig::read(const ConfigFile& config) {
  CLIPEncoderShape defaults;
  defaults.hidden_size = 768;
  defaults.intermediate_size = 3072;
  defaults.num_attention_heads = 12;
  defaults.num_hidden_layers = 12;
  CLIPVisionConfig vision;
  vision.encoder = CLIPEncoderShape::read(config, defaults);
  vision.image_size = config.integer("image_size", 224);
  vision.patch_size = config.integer("patch_size", 32);
  vision.num_channels = config.integer("num_channels", 3);
  if (vision.patch_size <= 0 || vision.image_size < vision.patch_size || vision.num_channels <= 0) {
    throw dmx::config_error(config.source() + ": image_size " + std::to_string(vision.image_size) +
                            " must be at least patch_size " + std::to_string(vision.patch_size) +
                            " (both positive), num_channels positive");
  }
  return vision;
}

CLIPVisionModel CLIPVisionModel::load(StateDict& weights, const std::string& prefix, const CLIPVisionConfig& config) {
  const auto hidden = config.encoder.hidden_size;
  const auto eps = config.encoder.layer_norm_eps;
  CLIPVisionModel model;
  model.config_ = config;
  model.class_embedding_ = weights.take(prefix + ".embeddings.class_embedding", {hidden});
  model.patch_embedding_ = Conv2d::load(weights, prefix + ".embeddings.patch_embedding", config.num_channels, hidden,
                                        config.patch_size, config.patch_size, 0, false);
  model.position_embedding_ =
      weights.take(prefix + ".embeddings.position_embedding.weight", {config.num_patches() + 1, hidden});
  model.pre_layrnorm_ = LayerNorm::load(weights, prefix + ".pre_layrnorm", hidden, eps);
  model.encoder_ = CLIPEncoder::load(weights, prefix + ".encoder", config.encoder);
  model.post_layernorm_ = LayerNorm::load(weights, prefix + ".post_layernorm", hidden, eps);
  return model;
}

CLIPVisionOutput CLIPVisionModel::forward(const at::Tensor& pixel_values) const {
  const auto size = config_.image_size;
  if (pixel_values.dim() != 4 || pixel_values.size(1) != config_.num_channels || pixel_values.size(2) != size ||
      pixel_values.size(3) != size) {
    throw dmx::shape_error("CLIPVisionModel: pixel_values must be [B, " + std::to_string(config_.num_channels) + ", " +
                           std::to_string(size) + ", " + std::to_string(size) + "], got " +
                           c10::str(pixel_values.sizes()));
  }
  const auto batch = pixel_values.size(0);
  const auto pixels = pixel_values.to(class_embedding_.device(), class_embedding_.scalar_type());
  const auto patches = patch_embedding_->forward(pixels).flatten(2).transpose(1, 2);  // [B, patches, hidden]
  const auto cls = class_embedding_.view({1, 1, -1}).expand({batch, 1, class_embedding_.size(0)});
  const auto embeddings = at::cat({cls, patches}, 1) + position_embedding_.unsqueeze(0);

  CLIPVisionOutput out;
  out.last_hidden_state = encoder_->forward(pre_layrnorm_->forward(embeddings), at::Tensor());
  out.pooler_output = post_layernorm_->forward(out.last_hidden_state.select(1, 0));
  return out;
}

}  // namespace dmx::sd
