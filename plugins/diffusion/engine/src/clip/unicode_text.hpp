// Unicode services the CLIP tokenizer needs, with Python's semantics: UTF-8 decoding, general categories (\p{L},
// \p{N}, control characters), str.isspace(), str.lower() and NFC normalisation. Lower-casing and normalisation come
// from ICU so that non-ASCII prompts tokenize as transformers tokenizes them.
#pragma once

#include <string>

namespace dmx::sd::unicode {

// Decodes UTF-8; invalid input is an InvalidArgument error naming `what` and the byte offset.
std::u32string decode_utf8(const std::string& text, const std::string& what);
std::string encode_utf8(const std::u32string& text);
std::string encode_utf8(char32_t code_point);

bool is_letter(char32_t c);            // \p{L}
bool is_number(char32_t c);            // \p{N}
bool is_other(char32_t c);             // general category C* (control, format, private use, surrogate, unassigned)
bool is_space_separator(char32_t c);   // general category Zs
bool is_python_space(char32_t c);      // str.isspace() and the regex module's \s
bool is_cjk_ideograph(char32_t c);     // the CJK blocks BERT-style tokenizers isolate with spaces

std::u32string to_lower(const std::u32string& text);  // full case mapping, as Python's str.lower()
std::u32string to_nfc(const std::u32string& text);

}  // namespace dmx::sd::unicode
