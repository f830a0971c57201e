#include "diffmix/sd_finetune/artifacts.hpp"

#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/lora.hpp"
#include "diffmix/sd/textual_inversion.hpp"
#include "diffmix/text_difference.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dmx::finetune {
namespace {

using nlohmann::json;

template <typename T>
T field(const json& object, const char* key, const std::string& path) {
  if (!object.contains(key)) throw dmx::format_error(path + ": key '" + key + "' is missing");
  try {
    return object.at(key).get<T>();
  } catch (const json::exception&) {
    throw dmx::format_error(path + ": key '" + key + "' has the wrong type");
  }
}

std::string join(const std::vector<int64_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

void expect_same(const std::string& source, const char* what, const std::string& trained, const std::string& here) {
  if (trained != here) {
    throw dmx::invalid_argument(source + ": trained on a base model with " + what + " " + trained +
                                ", but this model has " + here + " (artifacts from another base model?)");
  }
}

void check_signature(const std::string& source, const BaseModelSignature& trained, const BaseModelSignature& here) {
  expect_same(source, "text vocabulary size", std::to_string(trained.text_vocab_size),
              std::to_string(here.text_vocab_size));
  expect_same(source, "text hidden size", std::to_string(trained.text_hidden_size),
              std::to_string(here.text_hidden_size));
  expect_same(source, "cross_attention_dim", std::to_string(trained.cross_attention_dim),
              std::to_string(here.cross_attention_dim));
  expect_same(source, "UNet block_out_channels", join(trained.unet_block_out_channels),
              join(here.unet_block_out_channels));
  expect_same(source, "attention projections", std::to_string(trained.attention_projections),
              std::to_string(here.attention_projections));
}

void check_lora_rank(const sd::LoraWeights& lora, int64_t rank) {
  for (const auto& [name, adapter] : lora.adapters()) {
    if (adapter.down.size(0) != rank) {
      throw dmx::shape_error(lora.source() + ": '" + adapter.down_key + "' has rank " +
                             std::to_string(adapter.down.size(0)) + ", but the manifest says rank " +
                             std::to_string(rank));
    }
  }
}

}  // namespace

BaseModelSignature BaseModelSignature::of(const sd::CLIPTextModel& text_encoder, sd::UNet2DConditionModel& unet) {
  BaseModelSignature signature;
  signature.text_vocab_size = text_encoder.token_embedding().size(0);
  signature.text_hidden_size = text_encoder.token_embedding().size(1);
  signature.cross_attention_dim = unet.config().cross_attention_dim.empty() ? 0 : unet.config().cross_attention_dim[0];
  signature.unet_block_out_channels = unet.config().block_out_channels;
  unet.for_each_attention_projection([&](const std::string&, sd::Linear&) { ++signature.attention_projections; });
  return signature;
}

std::string class_token(int64_t class_index) { return "<class_" + std::to_string(class_index) + ">"; }

std::string training_prompt(Strategy strategy, int64_t class_index, const std::string& class_name,
                            const std::string& metaclass) {
  const auto subject = learns_tokens(strategy) ? class_token(class_index) : class_name;
  return "a photo of a " + subject + (metaclass.empty() ? "" : " " + metaclass);
}

std::string finetune_difference(const FinetuneManifest& manifest, const FinetuneConfig& config) {
  if (manifest.base_model != config.model_path)
    return "base model " + manifest.base_model + " there, " + config.model_path + " here";
  if (manifest.seed >= 0 && manifest.seed != static_cast<int64_t>(config.seed))
    return "seed " + std::to_string(manifest.seed) + " there, " + std::to_string(config.seed) + " here";
  auto wanted = config.train;
  wanted.precision = resolve_precision(wanted.precision, config.device.substr(0, config.device.find(':')));
  // More steps continue the fine-tuning, so the step count is compared by the caller.
  const auto is_steps = [](const std::string& line) { return line.rfind("steps = ", 0) == 0; };
  const auto difference = first_line_difference(manifest.config_toml, settings_toml(wanted), is_steps);
  if (!difference) return "";
  return difference->there.value_or("nothing") + " there, " + difference->here.value_or("nothing") + " here";
}

void FinetuneManifest::write(const std::string& path) const {
  json out;
  out["base_model"] = base_model;
  out["strategy"] = to_string(strategy);
  out["lora_rank"] = lora_rank;
  out["steps"] = steps;
  out["metaclass"] = metaclass;
  out["class_names"] = class_names;
  out["tokens"] = tokens;
  out["prompts"] = prompts;
  out["base"] = {{"text_vocab_size", base.text_vocab_size},
                 {"text_hidden_size", base.text_hidden_size},
                 {"cross_attention_dim", base.cross_attention_dim},
                 {"unet_block_out_channels", base.unet_block_out_channels},
                 {"attention_projections", base.attention_projections}};
  out["config"] = config_toml;
  if (seed >= 0) out["seed"] = seed;
  const auto text = out.dump(2) + "\n";
  io::write_file_atomic(path, text.data(), text.size());
}

FinetuneManifest FinetuneManifest::read(const std::string& path) {
  const auto bytes = io::read_file(path);
  json in;
  try {
    in = json::parse(bytes.begin(), bytes.end());
  } catch (const json::exception& e) {
    throw dmx::format_error(path + ": not valid JSON: " + e.what());
  }
  if (!in.is_object()) throw dmx::format_error(path + ": expected a JSON object");
  FinetuneManifest manifest;
  manifest.base_model = field<std::string>(in, "base_model", path);
  const auto strategy = field<std::string>(in, "strategy", path);
  if (strategy == "ti") {
    manifest.strategy = Strategy::TextualInversion;
  } else if (strategy == "db") {
    manifest.strategy = Strategy::DreamBooth;
  } else if (strategy == "ti+db") {
    manifest.strategy = Strategy::Both;
  } else {
    throw dmx::format_error(path + ": key 'strategy' is '" + strategy + "', expected 'ti', 'db' or 'ti+db'");
  }
  manifest.lora_rank = field<int64_t>(in, "lora_rank", path);
  manifest.steps = field<int64_t>(in, "steps", path);
  manifest.metaclass = field<std::string>(in, "metaclass", path);
  manifest.class_names = field<std::vector<std::string>>(in, "class_names", path);
  manifest.tokens = field<std::vector<std::string>>(in, "tokens", path);
  manifest.prompts = field<std::vector<std::string>>(in, "prompts", path);
  const auto base = field<json>(in, "base", path);
  manifest.base.text_vocab_size = field<int64_t>(base, "text_vocab_size", path);
  manifest.base.text_hidden_size = field<int64_t>(base, "text_hidden_size", path);
  manifest.base.cross_attention_dim = field<int64_t>(base, "cross_attention_dim", path);
  manifest.base.unet_block_out_channels = field<std::vector<int64_t>>(base, "unet_block_out_channels", path);
  manifest.base.attention_projections = field<int64_t>(base, "attention_projections", path);
  manifest.config_toml = field<std::string>(in, "config", path);
  if (in.contains("seed")) manifest.seed = field<int64_t>(in, "seed", path);
  if (manifest.prompts.size() != manifest.class_names.size() ||
      (learns_tokens(manifest.strategy) && manifest.tokens.size() != manifest.class_names.size())) {
    throw dmx::format_error(path + ": " + std::to_string(manifest.class_names.size()) + " class names but " +
                            std::to_string(manifest.tokens.size()) + " tokens and " +
                            std::to_string(manifest.prompts.size()) + " prompts");
  }
  return manifest;
}

FinetuneManifest apply_finetune_artifacts(const std::string& folder, sd::CLIPTokenizer& tokenizer,
                                          sd::CLIPTextModel& text_encoder, sd::UNet2DConditionModel& unet,
                                          int64_t expected_classes) {
  const auto manifest_path = (std::filesystem::path(folder) / kManifestFile).string();
  const auto manifest = FinetuneManifest::read(manifest_path);
  check_signature(manifest_path, manifest.base, BaseModelSignature::of(text_encoder, unet));
  const auto classes = static_cast<int64_t>(manifest.class_names.size());
  if (expected_classes >= 0 && classes != expected_classes) {
    throw dmx::invalid_argument(manifest_path + ": fine-tuned on " + std::to_string(classes) +
                                " classes, but the dataset has " + std::to_string(expected_classes));
  }

  // Read and check everything first, so that a bad file leaves the model as it was.
  std::vector<std::pair<std::string, at::Tensor>> embeddings;
  if (learns_tokens(manifest.strategy)) {
    const auto path = (std::filesystem::path(folder) / kEmbeddingsFile).string();
    const auto file = io::SafetensorsFile::open(path);
    for (const auto& token : manifest.tokens) {
      if (!file.contains(token)) throw dmx::format_error(path + ": no embedding for token '" + token + "'");
      const auto embedding = file.tensor(token);
      if (embedding.dim() != 1 || embedding.size(0) != manifest.base.text_hidden_size) {
        throw dmx::shape_error(path + ": '" + token + "' has shape " + c10::str(embedding.sizes()) + ", expected [" +
                               std::to_string(manifest.base.text_hidden_size) + "]");
      }
      embeddings.emplace_back(token, embedding);
    }
  }
  std::optional<sd::LoraWeights> lora;
  if (learns_lora(manifest.strategy)) {
    lora = sd::LoraWeights::load((std::filesystem::path(folder) / kLoraFile).string());
    check_lora_rank(*lora, manifest.lora_rank);
    if (static_cast<int64_t>(lora->adapters().size()) != manifest.base.attention_projections) {
      throw dmx::format_error(lora->source() + ": " + std::to_string(lora->adapters().size()) +
                              " adapters, expected one per attention projection (" +
                              std::to_string(manifest.base.attention_projections) + ")");
    }
  }

  if (lora) sd::apply_lora(unet, *lora, 1.0);
  if (!embeddings.empty()) sd::add_textual_inversion_tokens(embeddings, tokenizer, text_encoder, folder);
  return manifest;
}

}  // namespace dmx::finetune
