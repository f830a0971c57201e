#include "diffmix/sd/textual_inversion.hpp"

#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"

#include <set>

namespace dmx::sd {

namespace {

// The tokens one embedding adds: "<t>" for [hidden] or [1, hidden], "<t>", "<t>_1", ... for [n, hidden].
std::vector<std::pair<std::string, at::Tensor>> split_vectors(const std::string& token, const at::Tensor& embedding,
                                                              int64_t hidden, const std::string& source) {
  if ((embedding.dim() != 1 && embedding.dim() != 2) || embedding.size(-1) != hidden ||
      (embedding.dim() == 2 && embedding.size(0) < 1)) {
    throw dmx::shape_error(source + ": embedding of token '" + token + "' has shape " + c10::str(embedding.sizes()) +
                           ", expected [" + std::to_string(hidden) + "] or [n, " + std::to_string(hidden) +
                           "] for this text encoder");
  }
  const auto rows = embedding.dim() == 1 ? embedding.unsqueeze(0) : embedding;
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (int64_t i = 0; i < rows.size(0); ++i) {
    out.emplace_back(i == 0 ? token : token + "_" + std::to_string(i), rows[i]);
  }
  return out;
}

}  // namespace

std::vector<int64_t> add_textual_inversion_tokens(const std::vector<std::pair<std::string, at::Tensor>>& embeddings,
                                                  CLIPTokenizer& tokenizer, CLIPTextModel& text_encoder,
                                                  const std::string& source) {
  const auto& table = text_encoder.token_embedding();
  const auto hidden = table.size(1);
  if (table.size(0) != tokenizer.vocab_size()) {
    throw dmx::invalid_argument(source + ": the tokenizer has " + std::to_string(tokenizer.vocab_size()) +
                                " tokens but the text encoder " + std::to_string(table.size(0)) +
                                " embeddings; load both from the same model");
  }
  std::vector<std::pair<std::string, at::Tensor>> vectors;
  std::set<std::string> seen;
  for (const auto& [token, embedding] : embeddings) {
    for (auto& vector : split_vectors(token, embedding, hidden, source)) {
      if (tokenizer.token_id(vector.first) || !seen.insert(vector.first).second) {
        throw dmx::invalid_argument(source + ": token '" + vector.first +
                                    "' is already in the tokenizer; choose another token name");
      }
      vectors.push_back(std::move(vector));
    }
  }

  std::vector<at::Tensor> rows{table};
  std::vector<int64_t> ids;
  for (const auto& [token, row] : vectors) {
    ids.push_back(tokenizer.add_token(token));
    rows.push_back(row.to(table.device(), table.scalar_type()).unsqueeze(0));
  }
  text_encoder.set_token_embedding(at::cat(rows, 0));
  return ids;
}

std::vector<int64_t> load_textual_inversion(const std::string& path, CLIPTokenizer& tokenizer,
                                            CLIPTextModel& text_encoder, const std::string& token) {
  const auto file = dmx::io::SafetensorsFile::open(path);
  const auto names = file.names();
  if (names.empty()) throw dmx::format_error(path + ": no embeddings in the textual-inversion file");
  if (!token.empty() && names.size() != 1) {
    throw dmx::invalid_argument(path + ": a token name can only be given for a file with one embedding, this one has " +
                                std::to_string(names.size()));
  }
  std::vector<std::pair<std::string, at::Tensor>> embeddings;
  for (const auto& name : names) {
    const auto dtype = file.dtype(name);
    if (!at::isFloatingType(dtype)) {
      throw dmx::format_error(path + ": embedding '" + name + "' has dtype " + std::string(c10::toString(dtype)) +
                              ", expected a floating-point type");
    }
    embeddings.emplace_back(token.empty() ? name : token, file.tensor(name));
  }
  return add_textual_inversion_tokens(embeddings, tokenizer, text_encoder, path);
}

void save_textual_inversion(const std::string& path, const std::vector<std::string>& tokens,
                            const CLIPTokenizer& tokenizer, const CLIPTextModel& text_encoder) {
  std::vector<std::pair<std::string, at::Tensor>> rows;
  for (const auto& token : tokens) {
    const auto id = tokenizer.token_id(token);
    if (!id) throw dmx::not_found(path + ": token '" + token + "' is not in the tokenizer");
    rows.emplace_back(token, text_encoder.token_embedding()[*id].detach().to(at::kCPU, at::kFloat).clone());
  }
  dmx::io::save_safetensors(path, rows);
}

std::string expand_multi_vector_tokens(const std::string& prompt, const CLIPTokenizer& tokenizer) {
  std::set<std::string> unique;
  for (const auto& piece : tokenizer.tokenize(prompt)) {
    if (tokenizer.is_added_token(piece)) unique.insert(piece);
  }
  std::string result = prompt;
  for (const auto& token : unique) {
    std::string replacement = token;
    for (int i = 1; tokenizer.is_added_token(token + "_" + std::to_string(i)); ++i) {
      replacement += " " + token + "_" + std::to_string(i);
    }
    if (replacement == token) continue;
    // str.replace: every occurrence, scanning left to right over the original text.
    std::string replaced;
    size_t from = 0;
    for (size_t at = result.find(token); at != std::string::npos; at = result.find(token, from)) {
      replaced += result.substr(from, at - from) + replacement;
      from = at + token.size();
    }
    result = replaced + result.substr(from);
  }
  return result;
}

}  // namespace dmx::sd
