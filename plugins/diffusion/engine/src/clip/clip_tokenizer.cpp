#include "diffmix/sd/clip_tokenizer.hpp"

#include "basic_tokenizer.hpp"
#include "unicode_text.hpp"

#include "../common/file_kind.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sd/config_file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

namespace dmx::sd {

namespace {

// CLIP reads at most this many merges (49152 - 256 byte tokens - 2 special tokens); later lines are ignored, as in
// the reference tokenizer.
constexpr size_t kMaxMerges = 49152 - 256 - 2;
const std::string kEndOfWord = "</w>";

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw dmx::not_found(path + ": cannot open the tokenizer file");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t line_of_byte(const std::string& text, size_t byte) {
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + std::min(byte, text.size()), '\n'));
}

std::unordered_map<std::string, int64_t> read_vocab(const std::string& path) {
  const auto text = read_text_file(path);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw dmx::format_error(path + ":" + std::to_string(line_of_byte(text, e.byte)) + ": not valid JSON: " + e.what());
  } catch (const nlohmann::json::exception& e) {  // a number beyond double (out_of_range)
    throw dmx::format_error(path + ": not valid JSON: " + e.what());
  }
  if (!json.is_object()) throw dmx::format_error(path + ": the vocabulary must be a JSON object {token: id}");
  std::unordered_map<std::string, int64_t> vocab;
  for (const auto& [token, id] : json.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0) {
      throw dmx::format_error(path + ": token '" + token + "' must map to a non-negative integer id, got " + id.dump());
    }
    vocab.emplace(token, id.get<int64_t>());
  }
  return vocab;
}

std::vector<std::string> split_whitespace(const std::string& line) {
  std::vector<std::string> parts;
  std::istringstream in(line);
  for (std::string part; in >> part;) parts.push_back(part);
  return parts;
}

// merges.txt: a header line, then one "first second" pair per line in merge order.
std::unordered_map<std::string, int64_t> read_merges(const std::string& path) {
  const auto text = read_text_file(path);
  const auto begin = text.find_first_not_of(" \t\r\n");
  const auto end = text.find_last_not_of(" \t\r\n");
  std::unordered_map<std::string, int64_t> ranks;
  if (begin == std::string::npos) return ranks;
  std::istringstream lines(text.substr(begin, end - begin + 1));
  std::string line;
  std::getline(lines, line);  // "#version: 0.2"
  for (size_t number = 2; ranks.size() < kMaxMerges && std::getline(lines, line); ++number) {
    const auto parts = split_whitespace(line);
    if (parts.size() != 2) {
      throw dmx::format_error(path + ":" + std::to_string(number) + ": expected a merge 'first second', got '" + line +
                              "'");
    }
    ranks.emplace(parts[0] + " " + parts[1], static_cast<int64_t>(ranks.size()));
  }
  return ranks;
}

// GPT-2's reversible byte -> code point map: printable bytes map to themselves, the rest to 256 + n.
const std::vector<std::string>& byte_symbols() {
  static const std::vector<std::string> symbols = [] {
    std::vector<std::string> out(256);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      out[b] = unicode::encode_utf8(static_cast<char32_t>(printable ? b : 256 + next++));
    }
    return out;
  }();
  return symbols;
}

// A special token in tokenizer_config.json: a string or an AddedToken object {"content": ...}.
std::optional<std::string> special_token(const ConfigFile& config, const std::string& key) {
  if (!config.has_value(key)) return std::nullopt;
  const auto& value = config.json().at(key);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  throw dmx::config_error(config.source() + ": key '" + key + "' must be a token string or {\"content\": ...}, got " +
                          value.dump());
}

// CLIP's pre-tokenization pattern on one cleaned word:
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// The word holds no whitespace, so every character belongs to exactly one match.
std::vector<std::u32string> split_clip_pattern(const std::u32string& word) {
  static const std::u32string kLiterals[] = {U"<|startoftext|>", U"<|endoftext|>", U"'s", U"'t", U"'re", U"'ve",
                                             U"'m", U"'ll", U"'d"};
  std::vector<std::u32string> pieces;
  size_t i = 0;
  while (i < word.size()) {
    size_t length = 0;
    for (const auto& literal : kLiterals) {
      if (word.compare(i, literal.size(), literal) == 0) {
        length = literal.size();
        break;
      }
    }
    if (length == 0) {
      const auto category = [](char32_t c) { return unicode::is_letter(c) ? 0 : unicode::is_number(c) ? 1 : 2; };
      const int kind = category(word[i]);
      length = 1;
      if (kind != 1) {  // letters and symbols run on; a digit stands alone
        while (i + length < word.size() && category(word[i + length]) == kind) ++length;
      }
    }
    pieces.push_back(word.substr(i, length));
    i += length;
  }
  return pieces;
}

}  // namespace

CLIPTokenizer CLIPTokenizer::load(const std::string& folder) {
  CLIPTokenizer tokenizer;
  tokenizer.source_ = folder;
  tokenizer.vocab_ = read_vocab(folder + "/vocab.json");
  tokenizer.merge_ranks_ = read_merges(folder + "/merges.txt");

  std::string bos = "<|startoftext|>", eos = "<|endoftext|>", unk = "<|endoftext|>", pad = "<|endoftext|>";
  const auto config_path = folder + "/tokenizer_config.json";
  if (is_regular_file(config_path)) {
    const auto config = ConfigFile::open(config_path);
    bos = special_token(config, "bos_token").value_or(bos);
    eos = special_token(config, "eos_token").value_or(eos);
    unk = special_token(config, "unk_token").value_or(unk);
    pad = special_token(config, "pad_token").value_or(pad);
    // transformers writes a huge sentinel (1e30, beyond int64) when no length is known; CLIP's position table has
    // 77 entries then.
    const bool sentinel = config.has_value("model_max_length") && config.json().at("model_max_length").is_number_float() &&
                          config.number("model_max_length") >= 1e18;
    const auto max_length = sentinel ? 77 : config.integer("model_max_length", 77);
    if (max_length < 2) {
      throw dmx::config_error(config_path + ": key 'model_max_length' must be at least 2 (bos and eos), got " +
                              std::to_string(max_length));
    }
    tokenizer.model_max_length_ = max_length;
  }
  const auto special_id = [&](const std::string& token, const char* role) {
    const auto it = tokenizer.vocab_.find(token);
    if (it == tokenizer.vocab_.end()) {
      throw dmx::format_error(folder + "/vocab.json: the " + std::string(role) + " token '" + token +
                              "' is not in the vocabulary");
    }
    tokenizer.added_tokens_[token] = it->second;
    return it->second;
  };
  tokenizer.bos_id_ = special_id(bos, "bos");
  tokenizer.eos_id_ = special_id(eos, "eos");
  tokenizer.unk_id_ = special_id(unk, "unk");
  tokenizer.pad_id_ = special_id(pad, "pad");
  return tokenizer;
}

int64_t CLIPTokenizer::vocab_size() const { return static_cast<int64_t>(vocab_.size()) + added_beyond_vocab_; }

std::optional<int64_t> CLIPTokenizer::token_id(const std::string& token) const {
  if (const auto added = added_tokens_.find(token); added != added_tokens_.end()) return added->second;
  if (const auto it = vocab_.find(token); it != vocab_.end()) return it->second;
  return std::nullopt;
}

int64_t CLIPTokenizer::add_token(const std::string& token) {
  if (token.empty()) throw dmx::invalid_argument(source_ + ": cannot add an empty token");
  unicode::decode_utf8(token, "token '" + token + "'");
  if (token_id(token)) {
    throw dmx::invalid_argument(source_ + ": token '" + token + "' already exists in the tokenizer");
  }
  const int64_t id = vocab_size();
  added_tokens_[token] = id;
  ++added_beyond_vocab_;
  return id;
}

std::vector<std::string> CLIPTokenizer::bpe(const std::string& word) const {
  // Symbols start as the word's characters (each a byte symbol, one or two UTF-8 bytes), '</w>' on the last.
  std::vector<std::string> symbols;
  for (const char32_t c : unicode::decode_utf8(word, "word")) symbols.push_back(unicode::encode_utf8(c));
  if (symbols.empty()) return symbols;
  symbols.back() += kEndOfWord;

  // Repeatedly merge every occurrence of the adjacent pair with the lowest rank.
  while (symbols.size() > 1) {
    int64_t best_rank = std::numeric_limits<int64_t>::max();
    std::string best_first, best_second;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = merge_ranks_.find(symbols[i] + " " + symbols[i + 1]);
      if (it != merge_ranks_.end() && it->second < best_rank) {
        best_rank = it->second;
        best_first = symbols[i];
        best_second = symbols[i + 1];
      }
    }
    if (best_rank == std::numeric_limits<int64_t>::max()) break;
    std::vector<std::string> merged;
    for (size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size() && symbols[i] == best_first && symbols[i + 1] == best_second) {
        merged.push_back(best_first + best_second);
        i += 2;
      } else {
        merged.push_back(symbols[i]);
        ++i;
      }
    }
    symbols = std::move(merged);
  }
  return symbols;
}

void CLIPTokenizer::tokenize_plain_text(const std::string& text, std::vector<std::string>& pieces) const {
  const auto& byte_map = byte_symbols();
  for (const auto& word : basic_tokenize(text, "prompt '" + text + "'")) {
    for (const auto& piece : split_clip_pattern(word)) {
      std::string mapped;
      for (const unsigned char byte : unicode::encode_utf8(piece)) mapped += byte_map[byte];
      for (auto& symbol : bpe(mapped)) pieces.push_back(std::move(symbol));
    }
  }
}

std::vector<std::string> CLIPTokenizer::tokenize(const std::string& text) const {
  // Cut added tokens out of the raw text, leftmost first and longest at a position; tokenize the text between.
  std::vector<std::string> pieces;
  size_t plain_start = 0;
  for (size_t i = 0; i < text.size();) {
    size_t match = 0;
    for (const auto& [token, id] : added_tokens_) {
      if (token.size() > match && text.compare(i, token.size(), token) == 0) match = token.size();
    }
    if (match == 0) {
      ++i;
      continue;
    }
    tokenize_plain_text(text.substr(plain_start, i - plain_start), pieces);
    pieces.push_back(text.substr(i, match));
    i += match;
    plain_start = i;
  }
  tokenize_plain_text(text.substr(plain_start), pieces);
  return pieces;
}

int64_t CLIPTokenizer::piece_id(const std::string& piece) const {
  const auto id = token_id(piece);
  return id ? *id : unk_id_;
}

std::vector<int64_t> CLIPTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids{bos_id_};
  for (const auto& piece : tokenize(text)) ids.push_back(piece_id(piece));
  ids.push_back(eos_id_);
  return ids;
}

CLIPTokenizer::Batch CLIPTokenizer::encode_batch(const std::vector<std::string>& prompts, int64_t max_length) const {
  if (max_length <= 0) max_length = model_max_length_;
  if (max_length < 2) {
    throw dmx::invalid_argument(source_ + ": max_length " + std::to_string(max_length) +
                                " leaves no room for the bos and eos tokens");
  }
  const auto batch = static_cast<int64_t>(prompts.size());
  Batch out{at::full({batch, max_length}, pad_id_, at::kLong), at::zeros({batch, max_length}, at::kLong)};
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto mask = out.attention_mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    auto encoded = encode(prompts[b]);
    if (static_cast<int64_t>(encoded.size()) > max_length) {  // keep bos, the first max_length - 2 tokens, eos
      encoded.resize(max_length - 1);
      encoded.push_back(eos_id_);
    }
    for (size_t t = 0; t < encoded.size(); ++t) {
      ids[b][t] = encoded[t];
      mask[b][t] = 1;
    }
  }
  return out;
}

}  // namespace dmx::sd
