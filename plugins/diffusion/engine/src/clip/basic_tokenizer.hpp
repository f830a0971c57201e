// The text clean-up transformers' CLIPTokenizer applies when ftfy is not installed (its BasicTokenizer with
// strip_accents=False and no punctuation split): drop control characters, turn every whitespace into a space, put
// spaces around CJK ideographs, NFC-normalise, split on whitespace and lower-case each word. Accents are kept.
#pragma once

#include <string>
#include <vector>

namespace dmx::sd {

// The cleaned, lower-cased words of `text` (UTF-32). `what` names the text in errors (invalid UTF-8).
std::vector<std::u32string> basic_tokenize(const std::string& text, const std::string& what);

}  // namespace dmx::sd
