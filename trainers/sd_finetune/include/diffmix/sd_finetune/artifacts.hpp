// What a fine-tuning run leaves in its output folder, and how a model takes it back:
//
//   <output>/pytorch_lora_weights.safetensors   LoRA (strategies db, ti+db), diffusers key names
//   <output>/learned_embeds.safetensors         one embedding per class token (strategies ti, ti+db)
//   <output>/finetune_manifest.json             base model, strategy, classes ↔ tokens / prompts, steps, config
//
//   auto manifest = apply_finetune_artifacts("runs/cub", tokenizer, text_encoder, unet, 200);
//   prompt = manifest.prompts[class_index];   // "a photo of a <class_3> bird"
//
// Artifacts are checked against the model before anything changes: another base model, another class count, a
// wrong rank or shape is a dmx::Error naming the file and both values.
#pragma once

#include "diffmix/sd/clip_text_model.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"
#include "diffmix/sd_finetune/finetune_config.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace dmx::finetune {

inline constexpr const char* kLoraFile = "pytorch_lora_weights.safetensors";
inline constexpr const char* kEmbeddingsFile = "learned_embeds.safetensors";
inline constexpr const char* kManifestFile = "finetune_manifest.json";
// Held while a process fine-tunes into the folder (an empty file; the lock goes with the process).
inline constexpr const char* kLockFile = ".lock";

// The shape of the base model the artifacts were trained on; artifacts fit only a model with the same one.
struct BaseModelSignature {
  int64_t text_vocab_size = 0;   // embedding rows before the class tokens
  int64_t text_hidden_size = 0;
  int64_t cross_attention_dim = 0;
  std::vector<int64_t> unet_block_out_channels;
  int64_t attention_projections = 0;

  static BaseModelSignature of(const sd::CLIPTextModel& text_encoder, sd::UNet2DConditionModel& unet);
};

struct FinetuneManifest {
  std::string base_model;  // the model folder's path, as given
  Strategy strategy = Strategy::Both;
  int64_t lora_rank = 0;  // 0 without LoRA
  int64_t steps = 0;
  std::string metaclass;
  std::vector<std::string> class_names;
  std::vector<std::string> tokens;   // "<class_i>" per class (empty without textual inversion)
  std::vector<std::string> prompts;  // the training prompt of each class
  BaseModelSignature base;
  std::string config_toml;  // the [finetune] settings (settings_toml), precision as it was resolved
  int64_t seed = -1;        // the fine-tuning's seed; -1 in folders written before it was recorded

  void write(const std::string& path) const;
  static FinetuneManifest read(const std::string& path);  // NotFound / Format errors naming the file and key
};

// How `config` differs from what made the artifacts of `manifest`, other than in its steps (more steps continue a
// fine-tuning from its checkpoint): "learning_rate = 0.001 there, 0.003 here", or "" when nothing does.
std::string finetune_difference(const FinetuneManifest& manifest, const FinetuneConfig& config);

// "<class_3>"
std::string class_token(int64_t class_index);
// "a photo of a <class_i> {metaclass}" with textual inversion, "a photo of a {class name} {metaclass}" without.
std::string training_prompt(Strategy strategy, int64_t class_index, const std::string& class_name,
                            const std::string& metaclass);

// Loads <folder>'s artifacts into the model: adds the class tokens, attaches the LoRA (scale 1). With
// expected_classes >= 0 the class count must match too. Returns the manifest.
FinetuneManifest apply_finetune_artifacts(const std::string& folder, sd::CLIPTokenizer& tokenizer,
                                          sd::CLIPTextModel& text_encoder, sd::UNet2DConditionModel& unet,
                                          int64_t expected_classes = -1);

}  // namespace dmx::finetune
