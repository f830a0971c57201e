// Textual inversion's trainable part: new tokens ("<class_0>", ...) whose embedding rows learn while every other
// row of the text encoder's embedding table stays bit-identical.
//
//   auto tokens = LearnedTokens::add({"<class_0>", "<class_1>"}, "bird", tokenizer, text_encoder);
//   tokens.bind(text_encoder);                 // before each encode that should carry gradients to the new rows
//   auto embeds = text_encoder.encode(ids);
//
// The table is rebuilt as cat(frozen rows, learned rows) by bind(), so the frozen rows can never receive an update.
#pragma once

#include "diffmix/sd/clip_text_model.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"
#include "diffmix/sd_finetune/adamw.hpp"

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace dmx::finetune {

class LearnedTokens {
 public:
  // Adds `tokens` to the tokenizer and text encoder, each row initialised from the embedding of
  // `initializer_token`, which must be one existing token (an InvalidArgument error naming it otherwise).
  static LearnedTokens add(const std::vector<std::string>& tokens, const std::string& initializer_token,
                           sd::CLIPTokenizer& tokenizer, sd::CLIPTextModel& text_encoder);

  // One parameter, "token_embeddings" [tokens, hidden], requires_grad.
  const NamedTensors& parameters() const { return parameters_; }
  const std::vector<std::string>& tokens() const { return tokens_; }
  const at::Tensor& rows() const { return parameters_.front().second; }

  // Installs cat(frozen rows, learned rows) as the text encoder's embedding table (gradients reach the new rows).
  void bind(sd::CLIPTextModel& text_encoder) const;
  // As bind(), but detached: for inference and saving.
  void bind_detached(sd::CLIPTextModel& text_encoder) const;

  // Writes the learned rows keyed by token (learned_embeds.safetensors, readable by diffusers and
  // dmx::sd::load_textual_inversion).
  void save(const std::string& path, const sd::CLIPTokenizer& tokenizer, sd::CLIPTextModel& text_encoder) const;

 private:
  std::vector<std::string> tokens_;
  at::Tensor frozen_rows_;  // the table before the new tokens, detached
  NamedTensors parameters_;
};

}  // namespace dmx::finetune
