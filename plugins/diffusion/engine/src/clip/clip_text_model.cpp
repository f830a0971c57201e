#include "diffmix/sd/clip_text_model.hpp"

#include "diffmix/error.hpp"
#include "diffmix/sd/model_folder.hpp"

#include <c10/core/InferenceMode.h>

namespace dmx::sd {

CLIPTextConfig CLIPTextConfig::read(const ConfigFile& config) {
  CLIPEncoderShape defaults;
  defaults.hidden_size = 512;
  defaults.intermediate_size = 2048;
  defaults.num_attention_heads = 8;
  defaults.num_hidden_layers = 12;
  CLIPTextConfig text;
  text.encoder = CLIPEncoderShape::read(config, defaults);
  text.vocab_size = config.integer("vocab_size", 49408);
  text.max_position_embeddings = config.integer("max_position_embeddings", 77);
  text.eos_token_id = config.integer("eos_token_id", 49407);
  return text;
}

CLIPTextModel CLIPTextModel::load(const std::string& model_folder, at::ScalarType dtype, at::Device device) {
  const auto component = ComponentFolder::open(model_folder, "text_encoder");
  const auto config = CLIPTextConfig::read(ConfigFile::open(component.config_path()));
  auto weights = StateDict::load(component.weights_path());
  weights.to(dtype, device);
  auto model = load(weights, "text_model", config);
  // Older transformers checkpoints store the position-id buffer; it is always 0..L-1.
  if (weights.has("text_model.embeddings.position_ids")) weights.take("text_model.embeddings.position_ids");
  weights.expect_all_taken();
  return model;
}

CLIPTextModel CLIPTextModel::load(StateDict& weights, const std::string& prefix, const CLIPTextConfig& config) {
  const auto hidden = config.encoder.hidden_size;
  CLIPTextModel model;
  model.config_ = config;
  model.token_embedding_ = weights.take(prefix + ".embeddings.token_embedding.weight", {config.vocab_size, hidden});
  model.position_embedding_ =
      weights.take(prefix + ".embeddings.position_embedding.weight", {config.max_position_embeddings, hidden});
  model.encoder_ = CLIPEncoder::load(weights, prefix + ".encoder", config.encoder);
  model.final_layer_norm_ =
      LayerNorm::load(weights, prefix + ".final_layer_norm", hidden, config.encoder.layer_norm_eps);
  return model;
}

void CLIPTextModel::set_token_embedding(at::Tensor table) {
  if (table.dim() != 2 || table.size(0) < 1 || table.size(1) != config_.encoder.hidden_size) {
    throw dmx::shape_error("CLIPTextModel: token embedding table must be [n, " +
                           std::to_string(config_.encoder.hidden_size) + "], got " + c10::str(table.sizes()));
  }
  token_embedding_ = std::move(table);
  config_.vocab_size = token_embedding_.size(0);
}

at::Tensor CLIPTextModel::embed(const at::Tensor& input_ids) const {
  if (input_ids.dim() != 2 || input_ids.scalar_type() != at::kLong) {
    throw dmx::shape_error("CLIPTextModel: input_ids must be an int64 [batch, length] tensor, got " +
                           std::string(c10::toString(input_ids.scalar_type())) + " " + c10::str(input_ids.sizes()));
  }
  const auto length = input_ids.size(1);
  if (length > config_.max_position_embeddings) {
    throw dmx::shape_error("CLIPTextModel: " + std::to_string(length) + " tokens exceed max_position_embeddings " +
                           std::to_string(config_.max_position_embeddings));
  }
  const auto ids = input_ids.to(token_embedding_.device());
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= token_embedding_.size(0))) {
    throw dmx::invalid_argument("CLIPTextModel: token ids must lie in [0, " +
                                std::to_string(token_embedding_.size(0)) + ")");
  }
  return at::embedding(token_embedding_, ids) + position_embedding_.narrow(0, 0, length).unsqueeze(0);
}

// [B or 1, 1, L, L] booleans: a query may see keys at or before itself, and only real tokens when a mask is given.
at::Tensor CLIPTextModel::allowed_positions(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
  const auto length = input_ids.size(1);
  const auto options = at::TensorOptions().dtype(at::kBool).device(token_embedding_.device());
  auto allowed = at::ones({length, length}, options).tril().view({1, 1, length, length});
  if (attention_mask.defined()) {
    if (attention_mask.sizes() != input_ids.sizes()) {
      throw dmx::shape_error("CLIPTextModel: attention_mask " + c10::str(attention_mask.sizes()) +
                             " must match input_ids " + c10::str(input_ids.sizes()));
    }
    allowed = allowed & attention_mask.to(token_embedding_.device()).ne(0).view({input_ids.size(0), 1, 1, length});
  }
  return allowed;
}

CLIPTextOutput CLIPTextModel::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                      bool output_hidden_states) const {
  CLIPTextOutput out;
  const auto embeddings = embed(input_ids);  // validates input_ids first
  const auto h = encoder_->forward(embeddings, allowed_positions(input_ids, attention_mask), -1,
                                   output_hidden_states ? &out.hidden_states : nullptr);
  out.last_hidden_state = final_layer_norm_->forward(h);

  // transformers keeps the old argmax(ids) rule for configs that still say eos_token_id = 2 (the original CLIP
  // release); everyone else pools at the first eos token.
  const auto ids = input_ids.to(token_embedding_.device());
  const auto eos_position =
      config_.eos_token_id == 2 ? ids.argmax(-1) : ids.eq(config_.eos_token_id).to(at::kInt).argmax(-1);
  const auto batch = ids.size(0), length = ids.size(1);
  const auto flat_index = at::arange(batch, ids.options()) * length + eos_position;
  out.pooler_output = out.last_hidden_state.reshape({batch * length, -1}).index_select(0, flat_index);
  return out;
}

at::Tensor CLIPTextModel::encode(const at::Tensor& input_ids, int64_t clip_skip) const {
  if (clip_skip < 0 || clip_skip >= encoder_->num_layers()) {
    throw dmx::invalid_argument("CLIPTextModel: clip_skip " + std::to_string(clip_skip) + " must lie in [0, " +
                                std::to_string(encoder_->num_layers()) + ")");
  }
  const auto embeddings = embed(input_ids);  // validates input_ids first
  const auto h = encoder_->forward(embeddings, allowed_positions(input_ids, {}), encoder_->num_layers() - clip_skip);
  return final_layer_norm_->forward(h);
}

}  // namespace dmx::sd
