// Random-weight diffusers folders: configs from a template, weights named as diffusers and transformers name them.
#include "random_sd_model.hpp"

#include "diffmix/io/safetensors.hpp"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <utility>

namespace dmx::bench {
namespace {

namespace fs = std::filesystem;
using Weights = std::vector<std::pair<std::string, at::Tensor>>;

// Weights scaled by 1/sqrt(fan_in) keep activations of a deep random network finite; norms start at identity.
void add_weight(Weights& weights, const std::string& name, std::vector<int64_t> shape) {
  int64_t fan_in = 1;
  for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
  weights.emplace_back(name, at::randn(shape) / std::sqrt(static_cast<double>(fan_in)));
}
void add_bias(Weights& weights, const std::string& name, int64_t size) {
  weights.emplace_back(name, at::zeros({size}));
}
void add_norm(Weights& weights, const std::string& prefix, int64_t channels) {
  weights.emplace_back(prefix + ".weight", at::ones({channels}));
  add_bias(weights, prefix + ".bias", channels);
}
void add_linear(Weights& weights, const std::string& prefix, int64_t in, int64_t out, bool bias = true) {
  add_weight(weights, prefix + ".weight", {out, in});
  if (bias) add_bias(weights, prefix + ".bias", out);
}
void add_conv(Weights& weights, const std::string& prefix, int64_t in, int64_t out, int64_t kernel) {
  add_weight(weights, prefix + ".weight", {out, in, kernel, kernel});
  add_bias(weights, prefix + ".bias", out);
}

// ResnetBlock2D; temb = 0 for the VAE's blocks, which take no time embedding.
void add_resnet(Weights& w, const std::string& p, int64_t in, int64_t out, int64_t temb) {
  add_norm(w, p + ".norm1", in);
  add_conv(w, p + ".conv1", in, out, 3);
  if (temb > 0) add_linear(w, p + ".time_emb_proj", temb, out);
  add_norm(w, p + ".norm2", out);
  add_conv(w, p + ".conv2", out, out, 3);
  if (in != out) add_conv(w, p + ".conv_shortcut", in, out, 1);
}

// Transformer2DModel with one BasicTransformerBlock and 1x1-conv projections (use_linear_projection = false).
void add_transformer(Weights& w, const std::string& p, int64_t c, int64_t cross) {
  add_norm(w, p + ".norm", c);
  add_conv(w, p + ".proj_in", c, c, 1);
  const std::string b = p + ".transformer_blocks.0";
  add_norm(w, b + ".norm1", c);
  for (const char* q : {".attn1.to_q", ".attn1.to_k", ".attn1.to_v"}) add_linear(w, b + q, c, c, false);
  add_linear(w, b + ".attn1.to_out.0", c, c);
  add_norm(w, b + ".norm2", c);
  add_linear(w, b + ".attn2.to_q", c, c, false);
  add_linear(w, b + ".attn2.to_k", cross, c, false);
  add_linear(w, b + ".attn2.to_v", cross, c, false);
  add_linear(w, b + ".attn2.to_out.0", c, c);
  add_norm(w, b + ".norm3", c);
  add_linear(w, b + ".ff.net.0.proj", c, 8 * c);  // GEGLU: value and gate of the 4c hidden layer
  add_linear(w, b + ".ff.net.2", 4 * c, c);
  add_conv(w, p + ".proj_out", c, c, 1);
}

Weights unet_weights(const SdSizes& s) {
  Weights w;
  const auto& ch = s.unet_channels;
  const auto blocks = static_cast<int64_t>(ch.size());
  const int64_t temb = 4 * ch[0];
  add_conv(w, "conv_in", 4, ch[0], 3);
  add_linear(w, "time_embedding.linear_1", ch[0], temb);
  add_linear(w, "time_embedding.linear_2", temb, temb);
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string p = "down_blocks." + std::to_string(i);
    const bool attention = i + 1 < blocks;
    for (int64_t j = 0; j < s.unet_layers_per_block; ++j) {
      add_resnet(w, p + ".resnets." + std::to_string(j), j == 0 ? (i == 0 ? ch[0] : ch[i - 1]) : ch[i], ch[i], temb);
      if (attention) add_transformer(w, p + ".attentions." + std::to_string(j), ch[i], s.cross_attention_dim);
    }
    if (i + 1 < blocks) add_conv(w, p + ".downsamplers.0.conv", ch[i], ch[i], 3);
  }
  const int64_t last = ch.back();
  add_resnet(w, "mid_block.resnets.0", last, last, temb);
  add_transformer(w, "mid_block.attentions.0", last, s.cross_attention_dim);
  add_resnet(w, "mid_block.resnets.1", last, last, temb);
  const std::vector<int64_t> reversed(ch.rbegin(), ch.rend());
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string p = "up_blocks." + std::to_string(i);
    const int64_t out = reversed[i];
    const int64_t prev = i == 0 ? last : reversed[i - 1];
    const int64_t input = reversed[std::min(i + 1, blocks - 1)];
    const int64_t layers = s.unet_layers_per_block + 1;
    for (int64_t j = 0; j < layers; ++j) {
      const int64_t skip = j == layers - 1 ? input : out;
      add_resnet(w, p + ".resnets." + std::to_string(j), (j == 0 ? prev : out) + skip, out, temb);
      if (i > 0) add_transformer(w, p + ".attentions." + std::to_string(j), out, s.cross_attention_dim);
    }
    if (i + 1 < blocks) add_conv(w, p + ".upsamplers.0.conv", out, out, 3);
  }
  add_norm(w, "conv_norm_out", ch[0]);
  add_conv(w, "conv_out", ch[0], 4, 3);
  return w;
}

void add_vae_mid_block(Weights& w, const std::string& p, int64_t c) {
  add_resnet(w, p + ".resnets.0", c, c, 0);
  add_norm(w, p + ".attentions.0.group_norm", c);
  for (const char* q : {".to_q", ".to_k", ".to_v", ".to_out.0"}) add_linear(w, p + ".attentions.0" + q, c, c);
  add_resnet(w, p + ".resnets.1", c, c, 0);
}

Weights vae_weights(const SdSizes& s) {
  Weights w;
  const auto& ch = s.vae_channels;
  const auto blocks = static_cast<int64_t>(ch.size());
  const int64_t latent = 4;
  add_conv(w, "encoder.conv_in", 3, ch[0], 3);
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string p = "encoder.down_blocks." + std::to_string(i);
    for (int64_t j = 0; j < s.vae_layers_per_block; ++j)
      add_resnet(w, p + ".resnets." + std::to_string(j), j == 0 ? (i == 0 ? ch[0] : ch[i - 1]) : ch[i], ch[i], 0);
    if (i + 1 < blocks) add_conv(w, p + ".downsamplers.0.conv", ch[i], ch[i], 3);
  }
  add_vae_mid_block(w, "encoder.mid_block", ch.back());
  add_norm(w, "encoder.conv_norm_out", ch.back());
  add_conv(w, "encoder.conv_out", ch.back(), 2 * latent, 3);
  add_conv(w, "quant_conv", 2 * latent, 2 * latent, 1);
  add_conv(w, "post_quant_conv", latent, latent, 1);
  add_conv(w, "decoder.conv_in", latent, ch.back(), 3);
  add_vae_mid_block(w, "decoder.mid_block", ch.back());
  const std::vector<int64_t> reversed(ch.rbegin(), ch.rend());
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string p = "decoder.up_blocks." + std::to_string(i);
    const int64_t prev = i == 0 ? reversed[0] : reversed[i - 1];
    for (int64_t j = 0; j < s.vae_layers_per_block + 1; ++j)
      add_resnet(w, p + ".resnets." + std::to_string(j), j == 0 ? prev : reversed[i], reversed[i], 0);
    if (i + 1 < blocks) add_conv(w, p + ".upsamplers.0.conv", reversed[i], reversed[i], 3);
  }
  add_norm(w, "decoder.conv_norm_out", ch[0]);
  add_conv(w, "decoder.conv_out", ch[0], 3, 3);
  return w;
}

Weights text_weights(const SdSizes& s) {
  Weights w;
  const int64_t d = s.text_hidden;
  w.emplace_back("text_model.embeddings.token_embedding.weight", at::randn({s.text_vocab, d}) * 0.02);
  w.emplace_back("text_model.embeddings.position_embedding.weight", at::randn({77, d}) * 0.01);
  for (int64_t i = 0; i < s.text_layers; ++i) {
    const std::string p = "text_model.encoder.layers." + std::to_string(i);
    for (const char* q : {".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj", ".self_attn.out_proj"})
      add_linear(w, p + q, d, d);
    add_norm(w, p + ".layer_norm1", d);
    add_linear(w, p + ".mlp.fc1", d, s.text_intermediate);
    add_linear(w, p + ".mlp.fc2", s.text_intermediate, d);
    add_norm(w, p + ".layer_norm2", d);
  }
  add_norm(w, "text_model.final_layer_norm", d);
  return w;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}
void write_json(const fs::path& path, const nlohmann::json& json) { std::ofstream(path) << json.dump(2); }

constexpr const char* kStartOfText = "<|startoftext|>";
constexpr const char* kEndOfText = "<|endoftext|>";

// The template's tokenizer grown to `vocab_size` tokens, laid out as CLIP's is: the template's tokens and merges
// first (its words tokenize as before), then merges of byte-level symbol pairs up to the size, then the two special
// tokens as the last ids. Returns the ids of the special tokens.
std::pair<int64_t, int64_t> write_full_size_tokenizer(const fs::path& from, const fs::path& to, int64_t vocab_size) {
  fs::create_directories(to);
  for (const char* file : {"tokenizer_config.json", "special_tokens_map.json"}) fs::copy_file(from / file, to / file);
  std::vector<std::pair<int64_t, std::string>> by_id;
  const auto template_vocab = read_json(from / "vocab.json");
  for (const auto& [token, id] : template_vocab.items()) {
    if (token != kStartOfText && token != kEndOfText) by_id.emplace_back(id.get<int64_t>(), token);
  }
  std::sort(by_id.begin(), by_id.end());
  nlohmann::json vocab = nlohmann::json::object();
  std::vector<std::string> symbols;  // the 256 byte symbols then their 256 end-of-word forms
  for (const auto& [id, token] : by_id) {
    vocab[token] = static_cast<int64_t>(vocab.size());
    if (symbols.size() < 512) symbols.push_back(token);
  }
  std::ifstream merges_in(from / "merges.txt");
  std::ofstream merges_out(to / "merges.txt");
  for (std::string line; std::getline(merges_in, line);) merges_out << line << "\n";
  const auto regular_tokens = vocab_size - 2;
  for (size_t first = 0; first < 256 && static_cast<int64_t>(vocab.size()) < regular_tokens; ++first) {
    for (size_t second = 0; second < symbols.size() && static_cast<int64_t>(vocab.size()) < regular_tokens; ++second) {
      const auto merged = symbols[first] + symbols[second];
      if (vocab.contains(merged)) continue;
      vocab[merged] = static_cast<int64_t>(vocab.size());
      merges_out << symbols[first] << ' ' << symbols[second] << "\n";
    }
  }
  const auto start = static_cast<int64_t>(vocab.size());
  vocab[kStartOfText] = start;
  vocab[kEndOfText] = start + 1;
  write_json(to / "vocab.json", vocab);
  return {start, start + 1};
}

}  // namespace

SdSizes sd15_sizes() {
  SdSizes s;
  s.name = "sd15";
  s.unet_channels = {320, 640, 1280, 1280};
  s.vae_channels = {128, 256, 512, 512};
  return s;
}

std::string write_random_sd_folder(const SdSizes& sizes, const std::string& template_folder,
                                   const std::string& folder) {
  const fs::path root(folder);
  // The marker names the layout version: a folder written by an older version of this function is rewritten.
  const fs::path done = root / ".complete";
  constexpr const char* kLayout = "complete v2 (full-size tokenizer)";
  if (fs::exists(done)) {
    std::string marker;
    std::getline(std::ifstream(done), marker);
    if (marker == kLayout) return folder;
  }
  fs::remove_all(root);
  const fs::path from(template_folder);
  fs::create_directories(root);
  fs::copy_file(from / "model_index.json", root / "model_index.json");
  const auto [bos, eos] = write_full_size_tokenizer(from / "tokenizer", root / "tokenizer", sizes.text_vocab);
  fs::copy(from / "scheduler", root / "scheduler", fs::copy_options::recursive);
  at::manual_seed(0);

  auto unet = read_json(from / "unet" / "config.json");
  const auto blocks = sizes.unet_channels.size();
  unet["block_out_channels"] = sizes.unet_channels;
  std::vector<std::string> down(blocks, "CrossAttnDownBlock2D"), up(blocks, "CrossAttnUpBlock2D");
  down.back() = "DownBlock2D";
  up.front() = "UpBlock2D";
  unet["down_block_types"] = down;
  unet["up_block_types"] = up;
  unet["layers_per_block"] = sizes.unet_layers_per_block;
  unet["attention_head_dim"] = sizes.unet_heads;
  unet["cross_attention_dim"] = sizes.cross_attention_dim;
  unet["sample_size"] = sizes.latent_size;
  fs::create_directories(root / "unet");
  write_json(root / "unet" / "config.json", unet);
  io::save_safetensors((root / "unet" / "diffusion_pytorch_model.safetensors").string(), unet_weights(sizes));

  auto vae = read_json(from / "vae" / "config.json");
  vae["block_out_channels"] = sizes.vae_channels;
  vae["down_block_types"] = std::vector<std::string>(sizes.vae_channels.size(), "DownEncoderBlock2D");
  vae["up_block_types"] = std::vector<std::string>(sizes.vae_channels.size(), "UpDecoderBlock2D");
  vae["layers_per_block"] = sizes.vae_layers_per_block;
  vae["sample_size"] = sizes.latent_size << (sizes.vae_channels.size() - 1);
  fs::create_directories(root / "vae");
  write_json(root / "vae" / "config.json", vae);
  io::save_safetensors((root / "vae" / "diffusion_pytorch_model.safetensors").string(), vae_weights(sizes));

  auto text = read_json(from / "text_encoder" / "config.json");
  text["hidden_size"] = sizes.text_hidden;
  text["intermediate_size"] = sizes.text_intermediate;
  text["num_hidden_layers"] = sizes.text_layers;
  text["num_attention_heads"] = sizes.text_heads;
  text["vocab_size"] = sizes.text_vocab;
  text["bos_token_id"] = bos;
  text["eos_token_id"] = eos;
  text["pad_token_id"] = eos;
  fs::create_directories(root / "text_encoder");
  write_json(root / "text_encoder" / "config.json", text);
  io::save_safetensors((root / "text_encoder" / "model.safetensors").string(), text_weights(sizes));

  std::ofstream(done) << kLayout << "\n";
  return folder;
}

}  // namespace dmx::bench
