// Random-weight diffusers folders: configs from a template, weights named as diffusers and transformers name them.
#include "random_sd_model.hpp"

#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd_pretrain/parameter_layout.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

namespace dmx::bench {
namespace {

namespace fs = std::filesystem;

// The architecture of `sizes` in the pretrainer's terms, whose parameter layouts name and shape every weight as
// diffusers and transformers save them.
pretrain::Architecture architecture_of(const SdSizes& s) {
  pretrain::Architecture a;
  a.unet.block_out_channels = s.unet_channels;
  a.unet.layers_per_block = s.unet_layers_per_block;
  a.unet.attention_heads = s.unet_heads;
  a.vae.block_out_channels = s.vae_channels;
  a.vae.layers_per_block = s.vae_layers_per_block;
  a.text_encoder.hidden_size = s.text_hidden;
  a.text_encoder.intermediate_size = s.text_intermediate;
  a.text_encoder.layers = s.text_layers;
  a.text_encoder.heads = s.text_heads;
  return a;
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
  constexpr const char* kLayout = "complete v3 (full-size tokenizer, PyTorch initialisation)";
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
  const pretrain::Architecture architecture = architecture_of(sizes);
  const at::Generator generator = at::detail::createCPUGenerator(0);

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
  io::save_safetensors((root / "unet" / "diffusion_pytorch_model.safetensors").string(),
                      pretrain::initialize(pretrain::unet_layout(architecture.unet, sizes.cross_attention_dim,
                                                                 architecture.vae.latent_channels),
                                           generator));

  auto vae = read_json(from / "vae" / "config.json");
  vae["block_out_channels"] = sizes.vae_channels;
  vae["down_block_types"] = std::vector<std::string>(sizes.vae_channels.size(), "DownEncoderBlock2D");
  vae["up_block_types"] = std::vector<std::string>(sizes.vae_channels.size(), "UpDecoderBlock2D");
  vae["layers_per_block"] = sizes.vae_layers_per_block;
  vae["sample_size"] = sizes.latent_size << (sizes.vae_channels.size() - 1);
  fs::create_directories(root / "vae");
  write_json(root / "vae" / "config.json", vae);
  io::save_safetensors((root / "vae" / "diffusion_pytorch_model.safetensors").string(),
                      pretrain::initialize(pretrain::vae_layout(architecture.vae), generator));

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
  io::save_safetensors((root / "text_encoder" / "model.safetensors").string(),
                      pretrain::initialize(pretrain::text_encoder_layout(architecture.text_encoder, sizes.text_vocab),
                                           generator));

  std::ofstream(done) << kLayout << "\n";
  return folder;
}

}  // namespace dmx::bench
