// Textual inversion: new words whose input embeddings were learned, loaded into a CLIPTokenizer and CLIPTextModel.
//
//   auto ids = load_textual_inversion("out/learned_embeds.safetensors", tokenizer, text_encoder);
//   auto prompt = expand_multi_vector_tokens("a photo of a <class_3> bird", tokenizer);
//
// File format (diffusers' learned_embeds.safetensors): one tensor per token, keyed by the token, of shape [hidden] or
// [n, hidden]. An [n, hidden] embedding with n > 1 adds the tokens "<t>", "<t>_1", ..., "<t>_{n-1}", and
// expand_multi_vector_tokens() rewrites "<t>" in a prompt to "<t> <t>_1 ... <t>_{n-1}" (diffusers'
// maybe_convert_prompt). diffusers reads files with exactly one key; files with several keys (one per class, as the
// Diff-Mix fine-tuner writes them) add their tokens in file order.
#pragma once

#include "diffmix/sd/clip_text_model.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

namespace dmx::sd {

// Adds `embeddings` ({token, [hidden] or [n, hidden]}) as new tokens and returns their ids in order. Everything is
// checked before anything changes: a token that already exists or an embedding of the wrong width is an error that
// leaves tokenizer and text encoder as they were.
std::vector<int64_t> add_textual_inversion_tokens(const std::vector<std::pair<std::string, at::Tensor>>& embeddings,
                                                  CLIPTokenizer& tokenizer, CLIPTextModel& text_encoder,
                                                  const std::string& source = "textual inversion");

// Reads a learned_embeds.safetensors file and adds its tokens. With `token` non-empty, a one-key file's token is
// renamed to it (diffusers' `token=` argument).
std::vector<int64_t> load_textual_inversion(const std::string& path, CLIPTokenizer& tokenizer,
                                            CLIPTextModel& text_encoder, const std::string& token = "");

// Writes the current embedding rows of `tokens` (each [hidden]) keyed by token, loadable by load_textual_inversion
// and by diffusers.
void save_textual_inversion(const std::string& path, const std::vector<std::string>& tokens,
                            const CLIPTokenizer& tokenizer, const CLIPTextModel& text_encoder);

// diffusers' maybe_convert_prompt: every added token "<t>" of the prompt that has companions "<t>_1", "<t>_2", ...
// becomes "<t> <t>_1 <t>_2 ...".
std::string expand_multi_vector_tokens(const std::string& prompt, const CLIPTokenizer& tokenizer);

}  // namespace dmx::sd
