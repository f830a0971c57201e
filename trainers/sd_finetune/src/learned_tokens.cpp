#include "diffmix/sd_finetune/learned_tokens.hpp"

#include "diffmix/error.hpp"
#include "diffmix/sd/textual_inversion.hpp"

#include <utility>

namespace dmx::finetune {
namespace {

int64_t single_token_id(const std::string& token, const sd::CLIPTokenizer& tokenizer) {
  const auto ids = tokenizer.encode(token);  // bos, pieces..., eos
  if (ids.size() != 3) {
    throw dmx::invalid_argument("initializer_token '" + token + "' must be exactly one token of " + tokenizer.source() +
                                ", but it splits into " + std::to_string(ids.size() - 2) +
                                " pieces; choose a single word the vocabulary knows");
  }
  return ids[1];
}

}  // namespace

LearnedTokens LearnedTokens::add(const std::vector<std::string>& tokens, const std::string& initializer_token,
                                 sd::CLIPTokenizer& tokenizer, sd::CLIPTextModel& text_encoder) {
  const auto& table = text_encoder.token_embedding();
  const auto initializer_id = single_token_id(initializer_token, tokenizer);
  if (initializer_id >= table.size(0)) {
    throw dmx::invalid_argument("initializer_token '" + initializer_token + "' has id " +
                                std::to_string(initializer_id) + ", outside the text encoder's " +
                                std::to_string(table.size(0)) + " embeddings");
  }
  LearnedTokens learned;
  learned.tokens_ = tokens;
  learned.frozen_rows_ = table.detach();
  const auto initial = table[initializer_id].detach();
  std::vector<std::pair<std::string, at::Tensor>> embeddings;
  for (const auto& token : tokens) embeddings.emplace_back(token, initial.clone());
  const auto ids = sd::add_textual_inversion_tokens(embeddings, tokenizer, text_encoder, "fine-tuning tokens");
  for (size_t k = 0; k < ids.size(); ++k) {
    // Rows are appended at the end of the table; the learned block relies on it.
    if (ids[k] != learned.frozen_rows_.size(0) + static_cast<int64_t>(k)) {
      throw dmx::internal_error("token '" + tokens[k] + "' got id " + std::to_string(ids[k]) + ", expected " +
                                std::to_string(learned.frozen_rows_.size(0) + static_cast<int64_t>(k)) +
                                " (tokenizer and text encoder vocabularies differ in size)");
    }
  }
  auto rows = at::stack(std::vector<at::Tensor>(tokens.size(), initial)).clone();
  rows.set_requires_grad(true);
  learned.parameters_.emplace_back("token_embeddings", rows);
  learned.bind_detached(text_encoder);
  return learned;
}

void LearnedTokens::bind(sd::CLIPTextModel& text_encoder) const {
  text_encoder.set_token_embedding(at::cat({frozen_rows_, rows()}));
}

void LearnedTokens::bind_detached(sd::CLIPTextModel& text_encoder) const {
  text_encoder.set_token_embedding(at::cat({frozen_rows_, rows().detach()}));
}

void LearnedTokens::save(const std::string& path, const sd::CLIPTokenizer& tokenizer,
                         sd::CLIPTextModel& text_encoder) const {
  bind_detached(text_encoder);
  sd::save_textual_inversion(path, tokens_, tokenizer, text_encoder);
}

}  // namespace dmx::finetune
