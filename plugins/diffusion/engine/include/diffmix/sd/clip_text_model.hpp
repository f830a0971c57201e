// CLIP's text tower (transformers' CLIPTextModel), the text encoder of Stable Diffusion 1.x:
//
//   auto text_encoder = CLIPTextModel::load(model_folder);             // text_encoder/config.json + model.safetensors
//   auto ids = tokenizer.encode_batch({"a photo of a cat"}).input_ids;
//   at::Tensor prompt_embeds = text_encoder.encode(ids);                // [B, 77, hidden]: SD's encoder_hidden_states
//
// Token + position embeddings, a causal transformer, a final LayerNorm. The pooled output is the final state at the
// first end-of-text token (at the highest id for legacy configs whose eos_token_id is 2), as transformers computes it.
#pragma once

#include "diffmix/sd/clip_encoder.hpp"
#include "diffmix/sd/config_file.hpp"
#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/state_dict.hpp"

#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

struct CLIPTextConfig {
  CLIPEncoderShape encoder;
  int64_t vocab_size = 49408;
  int64_t max_position_embeddings = 77;
  int64_t eos_token_id = 49407;

  // A CLIPTextConfig (text_encoder/config.json, or the text_config section of a CLIPModel config), with
  // transformers' defaults for absent keys.
  static CLIPTextConfig read(const ConfigFile& config);
};

struct CLIPTextOutput {
  at::Tensor last_hidden_state;            // [B, L, hidden], after final_layer_norm
  at::Tensor pooler_output;                // [B, hidden]
  std::vector<at::Tensor> hidden_states;   // with output_hidden_states: embeddings, then each layer (no final norm)
};

class CLIPTextModel {
 public:
  // <model_folder>/text_encoder, converted to `dtype` on `device`.
  static CLIPTextModel load(const std::string& model_folder, at::ScalarType dtype = at::kFloat,
                            at::Device device = at::kCPU);
  // From weights named "<prefix>.embeddings...", "<prefix>.encoder...", "<prefix>.final_layer_norm..." (prefix
  // "text_model" in both CLIPTextModel and CLIPModel checkpoints).
  static CLIPTextModel load(StateDict& weights, const std::string& prefix, const CLIPTextConfig& config);

  // input_ids [B, L] (L <= max_position_embeddings); attention_mask [B, L] of 0/1 or undefined (SD passes none).
  CLIPTextOutput forward(const at::Tensor& input_ids, const at::Tensor& attention_mask = {},
                         bool output_hidden_states = false) const;

  // Stable Diffusion's prompt embeddings: final_layer_norm of the state after all layers, or with clip_skip = k of
  // the state k layers before the last (diffusers' encode_prompt).
  at::Tensor encode(const at::Tensor& input_ids, int64_t clip_skip = 0) const;

  const CLIPTextConfig& config() const { return config_; }
  // The input embedding table [vocab, hidden]. Textual inversion grows it and writes the rows of new tokens.
  const at::Tensor& token_embedding() const { return token_embedding_; }
  void set_token_embedding(at::Tensor table);  // [n, hidden] with n >= 1; a Shape error otherwise

 private:
  at::Tensor embed(const at::Tensor& input_ids) const;
  at::Tensor allowed_positions(const at::Tensor& input_ids, const at::Tensor& attention_mask) const;

  CLIPTextConfig config_;
  at::Tensor token_embedding_, position_embedding_;
  std::optional<CLIPEncoder> encoder_;
  std::optional<LayerNorm> final_layer_norm_;
};

}  // namespace dmx::sd
