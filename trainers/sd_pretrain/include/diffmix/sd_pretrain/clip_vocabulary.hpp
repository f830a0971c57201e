// A CLIP byte-level BPE vocabulary made for a known set of texts, in the files transformers' CLIPTokenizer reads:
//
//   auto vocabulary = ClipVocabulary::learn({"a photo of a clothing", "T-shirt/top", "Ankle boot"});
//   vocabulary.write("model/tokenizer", 77);   // vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json
//
// Laid out as CLIP's own: the 256 byte symbols, their 256 end-of-word forms ("a</w>"), one token per merge, then
// <|startoftext|> and <|endoftext|> as the last two ids. The merges are learned by BPE on the words of the texts
// (lower-cased and split as CLIP splits them) until every such word is a single token. Any other text still
// tokenizes: BPE falls back to the byte symbols, which are all in the vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dmx::pretrain {

class ClipVocabulary {
 public:
  static ClipVocabulary learn(const std::vector<std::string>& texts);

  // Tokens in id order.
  const std::vector<std::string>& tokens() const { return tokens_; }
  // Merges in rank order ("p h" merges first).
  const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t bos_token_id() const { return size() - 2; }
  int64_t eos_token_id() const { return size() - 1; }

  // Writes the tokenizer folder (created if needed); `model_max_length` is what prompts are padded to.
  void write(const std::string& folder, int64_t model_max_length) const;

 private:
  std::vector<std::string> tokens_;
  std::vector<std::pair<std::string, std::string>> merges_;
};

// The words CLIP's pre-tokenizer cuts `text` into (lower-cased; runs of letters, single digits, runs of other
// symbols), for the ASCII texts this vocabulary learns from.
std::vector<std::string> clip_words(const std::string& text);

}  // namespace dmx::pretrain
