#include "basic_tokenizer.hpp"

#include "unicode_text.hpp"

namespace dmx::sd {

namespace {

bool is_bert_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || unicode::is_space_separator(c);
}

bool is_bert_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  return unicode::is_other(c);
}

std::vector<std::u32string> split_on_python_space(const std::u32string& text) {
  std::vector<std::u32string> words;
  std::u32string word;
  for (const char32_t c : text) {
    if (unicode::is_python_space(c)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

}  // namespace

std::vector<std::u32string> basic_tokenize(const std::string& text, const std::string& what) {
  std::u32string cleaned;
  for (const char32_t c : unicode::decode_utf8(text, what)) {
    if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
    if (is_bert_whitespace(c)) {
      cleaned.push_back(U' ');
    } else if (unicode::is_cjk_ideograph(c)) {
      cleaned += U' ';
      cleaned.push_back(c);
      cleaned += U' ';
    } else {
      cleaned.push_back(c);
    }
  }
  std::vector<std::u32string> words;
  for (const auto& word : split_on_python_space(unicode::to_nfc(cleaned))) {
    // Lower-casing can produce spaces in no script we know of, but transformers re-splits after it, and so do we.
    for (auto& piece : split_on_python_space(unicode::to_lower(word))) words.push_back(std::move(piece));
  }
  return words;
}

}  // namespace dmx::sd
