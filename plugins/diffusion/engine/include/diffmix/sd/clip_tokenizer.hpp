// CLIP's byte-level BPE tokenizer, read from a transformers tokenizer folder (vocab.json, merges.txt and, when
// present, tokenizer_config.json) and computing the ids transformers' CLIPTokenizer computes:
//
//   auto tokenizer = CLIPTokenizer::load(model_folder + "/tokenizer");
//   auto batch = tokenizer.encode_batch({"a photo of a cat", ""});   // [2, 77] ids: bos, tokens, eos, pad...
//   int64_t id = tokenizer.add_token("<class_3>");                    // textual inversion: a new whole-word token
//
// Pipeline: added tokens (the special tokens and any added with add_token) are cut out of the raw text first and
// kept whole; the rest is cleaned and lower-cased (transformers' fallback when ftfy is absent), split with CLIP's
// pattern (contractions, runs of letters, single digits, runs of other symbols), mapped byte by byte onto printable
// code points, merged by BPE with '</w>' marking the end of each word, and looked up in the vocabulary.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace dmx::sd {

class CLIPTokenizer {
 public:
  // Reads <folder>/vocab.json, <folder>/merges.txt and optional <folder>/tokenizer_config.json (special tokens,
  // model_max_length). A malformed file is a Format error naming the file and line.
  static CLIPTokenizer load(const std::string& folder);

  // BPE pieces of `text` (no bos/eos), e.g. "a photo" -> {"a</w>", "photo</w>"}; added tokens stay whole.
  std::vector<std::string> tokenize(const std::string& text) const;
  // bos, the ids of `text`, eos: no truncation, no padding.
  std::vector<int64_t> encode(const std::string& text) const;

  struct Batch {
    at::Tensor input_ids;       // [B, max_length] int64: bos, ids (truncated to max_length - 2), eos, pad...
    at::Tensor attention_mask;  // [B, max_length] int64: 1 on bos, ids and eos
  };
  // As transformers' tokenizer(prompts, padding='max_length', truncation=True, max_length=...). max_length <= 0
  // means model_max_length (77 for CLIP).
  Batch encode_batch(const std::vector<std::string>& prompts, int64_t max_length = 0) const;

  // Adds a token that is matched whole in raw text (case-sensitive) and gets the next free id (vocab_size() before
  // the call). Adding a token that already exists is an InvalidArgument error.
  int64_t add_token(const std::string& token);
  bool is_added_token(const std::string& token) const { return added_tokens_.count(token) != 0; }
  std::optional<int64_t> token_id(const std::string& token) const;  // vocabulary or added token
  int64_t vocab_size() const;  // vocabulary plus added tokens, as len(tokenizer)

  int64_t bos_token_id() const { return bos_id_; }
  int64_t eos_token_id() const { return eos_id_; }
  int64_t pad_token_id() const { return pad_id_; }
  int64_t unk_token_id() const { return unk_id_; }
  int64_t model_max_length() const { return model_max_length_; }
  const std::string& source() const { return source_; }

 private:
  std::vector<std::string> bpe(const std::string& word) const;
  void tokenize_plain_text(const std::string& text, std::vector<std::string>& pieces) const;
  int64_t piece_id(const std::string& piece) const;

  std::string source_;
  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int64_t> merge_ranks_;  // "first second" -> rank (lower merges first)
  std::map<std::string, int64_t> added_tokens_;           // special tokens and add_token()s, matched in raw text
  int64_t added_beyond_vocab_ = 0;
  int64_t bos_id_ = 0, eos_id_ = 0, pad_id_ = 0, unk_id_ = 0;
  int64_t model_max_length_ = 77;
};

}  // namespace dmx::sd
