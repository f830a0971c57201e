#include "diffmix/sd_pretrain/clip_vocabulary.hpp"

#include "diffmix/io/image.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <filesystem>
#include <map>
#include <set>

namespace dmx::pretrain {
namespace {

constexpr const char* kStartOfText = "<|startoftext|>";
constexpr const char* kEndOfText = "<|endoftext|>";
constexpr const char* kEndOfWord = "</w>";

std::string utf8(uint32_t code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

// GPT-2 / CLIP's bytes_to_unicode(): printable bytes stand for themselves, the others for code points 256, 257, ...
// Returned in CLIP's vocabulary order (printable bytes first).
std::vector<std::pair<uint8_t, std::string>> byte_symbols() {
  std::vector<std::pair<uint8_t, std::string>> symbols;
  const auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); };
  for (int b = 0; b < 256; ++b) {
    if (printable(b)) symbols.emplace_back(static_cast<uint8_t>(b), utf8(static_cast<uint32_t>(b)));
  }
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    if (!printable(b)) symbols.emplace_back(static_cast<uint8_t>(b), utf8(next++));
  }
  return symbols;
}

using Word = std::vector<std::string>;  // BPE symbols; the last one ends with "</w>"

std::map<std::pair<std::string, std::string>, int64_t> count_pairs(const std::vector<Word>& words) {
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  for (const auto& word : words) {
    for (size_t i = 0; i + 1 < word.size(); ++i) ++counts[{word[i], word[i + 1]}];
  }
  return counts;
}

void apply_merge(Word& word, const std::pair<std::string, std::string>& merge) {
  Word merged;
  for (size_t i = 0; i < word.size(); ++i) {
    if (i + 1 < word.size() && word[i] == merge.first && word[i + 1] == merge.second) {
      merged.push_back(word[i] + word[i + 1]);
      ++i;
    } else {
      merged.push_back(word[i]);
    }
  }
  word = std::move(merged);
}

void write_json(const std::filesystem::path& path, const nlohmann::ordered_json& json, int indent) {
  const auto text = json.dump(indent);
  io::write_file_atomic(path.string(), text.data(), text.size());
}

}  // namespace

std::vector<std::string> clip_words(const std::string& text) {
  std::vector<std::string> words;
  std::string current;
  enum class Kind { None, Letters, Symbols } kind = Kind::None;
  const auto flush = [&] {
    if (!current.empty()) words.push_back(current);
    current.clear();
    kind = Kind::None;
  };
  for (const char raw : text) {
    const auto c = static_cast<unsigned char>(raw);
    if (std::isspace(c)) {
      flush();
    } else if (std::isdigit(c)) {
      flush();
      words.emplace_back(1, raw);  // CLIP splits digits one by one
    } else {
      const auto this_kind = std::isalpha(c) ? Kind::Letters : Kind::Symbols;
      if (kind != this_kind) flush();
      kind = this_kind;
      current += static_cast<char>(std::tolower(c));
    }
  }
  flush();
  return words;
}

ClipVocabulary ClipVocabulary::learn(const std::vector<std::string>& texts) {
  ClipVocabulary vocabulary;
  std::map<uint8_t, std::string> symbol_of;
  for (const auto& [byte, symbol] : byte_symbols()) {
    vocabulary.tokens_.push_back(symbol);
    symbol_of[byte] = symbol;
  }
  for (const auto& [byte, symbol] : byte_symbols()) vocabulary.tokens_.push_back(symbol + kEndOfWord);
  std::set<std::string> known(vocabulary.tokens_.begin(), vocabulary.tokens_.end());

  std::set<std::string> distinct;
  for (const auto& text : texts) {
    for (const auto& word : clip_words(text)) distinct.insert(word);
  }
  std::vector<Word> words;
  for (const auto& text : distinct) {
    Word word;
    for (const char c : text) word.push_back(symbol_of[static_cast<uint8_t>(c)]);
    word.back() += kEndOfWord;
    words.push_back(word);
  }
  // BPE: merge the most frequent adjacent pair (the first in sorted order on ties, so the result is deterministic)
  // until no word has two symbols left.
  for (auto counts = count_pairs(words); !counts.empty(); counts = count_pairs(words)) {
    auto best = counts.begin();
    for (auto it = counts.begin(); it != counts.end(); ++it) {
      if (it->second > best->second) best = it;
    }
    const auto merge = best->first;
    vocabulary.merges_.push_back(merge);
    if (known.insert(merge.first + merge.second).second) vocabulary.tokens_.push_back(merge.first + merge.second);
    for (auto& word : words) apply_merge(word, merge);
  }
  vocabulary.tokens_.push_back(kStartOfText);
  vocabulary.tokens_.push_back(kEndOfText);
  return vocabulary;
}

void ClipVocabulary::write(const std::string& folder, int64_t model_max_length) const {
  const std::filesystem::path root(folder);
  std::filesystem::create_directories(root);
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (size_t id = 0; id < tokens_.size(); ++id) vocab[tokens_[id]] = static_cast<int64_t>(id);
  write_json(root / "vocab.json", vocab, -1);

  std::string merges = "#version: 0.2\n";
  for (const auto& [first, second] : merges_) merges += first + " " + second + "\n";
  io::write_file_atomic((root / "merges.txt").string(), merges.data(), merges.size());

  // The keys and values transformers' CLIPTokenizer writes for SD 1.x (unk and pad are the end-of-text token).
  nlohmann::ordered_json config = {{"tokenizer_class", "CLIPTokenizer"},
                                   {"model_max_length", model_max_length},
                                   {"do_lower_case", true},
                                   {"errors", "replace"},
                                   {"add_prefix_space", false},
                                   {"bos_token", kStartOfText},
                                   {"eos_token", kEndOfText},
                                   {"unk_token", kEndOfText},
                                   {"pad_token", kEndOfText}};
  write_json(root / "tokenizer_config.json", config, 2);
  nlohmann::ordered_json special = {
      {"bos_token", kStartOfText}, {"eos_token", kEndOfText}, {"unk_token", kEndOfText}, {"pad_token", kEndOfText}};
  write_json(root / "special_tokens_map.json", special, 2);
}

}  // namespace dmx::pretrain
