// The settings of one Stable Diffusion fine-tuning run (LoRA and/or textual inversion), read from a TOML config:
//
//   output = "runs/finetune-cub"
//   seed = 0
//   [data]      kind, root, split, metaclass, shots, imbalance, seed, skip_bad_entries   (as `diffmix train`)
//   [model]     path (a diffusers SD 1.x folder), device ("cpu", "cuda", "cuda:1")
//   [finetune]  strategy ("ti", "db" or "ti+db"), steps, batch_size, micro_batch_size, resolution, learning_rate,
//               lora_rank, initializer_token, checkpoint_every, class_sampling, adam_beta1, adam_beta2,
//               weight_decay, adam_epsilon, max_grad_norm,
//               precision ("auto", "fp32", "fp16" or "bf16"; "auto": fp32 on the CPU, fp16 on CUDA)
//
// Mixed precision ("fp16", "bf16") runs the forward passes under autocast; the weights, LoRA, embeddings, optimizer
// state and the loss stay float32, and fp16 adds dynamic loss scaling. LibTorch 1.13's CPU autocast has no float16,
// so "fp16" with a CPU device is a config error.
//
// Defaults are the paper's (docs/method.md): TI+DB, rank 10, AdamW 5e-5, batch 8, 512 px, 35 000 steps.
#pragma once

#include "diffmix/config.hpp"
#include "diffmix/data/datasets.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace dmx::finetune {

// Which parts of the model learn.
enum class Strategy {
  TextualInversion,  // "ti": one new token per class, embeddings only (the Da-Fusion baseline)
  DreamBooth,        // "db": LoRA on the UNet's attention, prompts with the plain class names
  Both,              // "ti+db": both (Diff-Mix)
};

std::string to_string(Strategy strategy);
bool learns_tokens(Strategy strategy);
bool learns_lora(Strategy strategy);

// How training images are drawn.
enum class ClassSampling {
  Uniform,   // every image equally often
  Balanced,  // image weight ∝ 1 / (images in its class): every class equally often (long-tail sets)
};

// The precision the forward passes compute in.
enum class Precision {
  Auto,      // "auto": Float32 on the CPU, Float16 on CUDA
  Float32,   // "fp32"
  Float16,   // "fp16": CUDA autocast in float16, with dynamic loss scaling
  BFloat16,  // "bf16": autocast in bfloat16 (CPU or CUDA), no loss scaling needed
};

std::string to_string(Precision precision);
// What `precision` means on a device of type `device_type` ("cpu", "cuda"): never Auto.
Precision resolve_precision(Precision precision, const std::string& device_type);

struct FinetuneSettings {
  Strategy strategy = Strategy::Both;
  int64_t steps = 35000;
  int64_t batch_size = 8;
  int64_t micro_batch_size = 0;  // images per forward/backward; 0: batch_size (no gradient accumulation)
  int64_t resolution = 512;      // training images are resolution × resolution pixels
  double learning_rate = 5e-5;   // both parameter groups, constant
  int64_t lora_rank = 10;
  std::string initializer_token;  // the existing token new embeddings start from; empty: the metaclass
  int64_t checkpoint_every = 500;
  ClassSampling class_sampling = ClassSampling::Uniform;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double weight_decay = 1e-2;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  Precision precision = Precision::Auto;

  int64_t micro_batch() const { return micro_batch_size > 0 ? micro_batch_size : batch_size; }
};

// The settings as TOML (every key, precision as given), as a fine-tuned folder's manifest records them.
std::string settings_toml(const FinetuneSettings& settings);

struct FinetuneConfig {
  std::string source;  // the config file, for messages
  std::string output_dir = "runs/finetune";
  uint64_t seed = 0;
  data::DatasetSpec data;
  std::string model_path;  // diffusers SD 1.x folder
  std::string device = "cpu";
  FinetuneSettings train;
};

// Reads the [finetune] keys above from `table` into `settings` (class_sampling defaults to "balanced" when
// `long_tail`). With `fixed_strategy` the strategy is the caller's and a `strategy` key is left unread, so the
// caller's finish() reports it as unknown.
void read_finetune_settings(const config::Table& table, FinetuneSettings& settings, bool long_tail,
                            std::optional<Strategy> fixed_strategy = std::nullopt);

// Reads the keys above from the root table; the caller calls root.finish() afterwards. class_sampling defaults to
// "balanced" when [data] asks for a long-tail subset (imbalance > 1), else "uniform".
FinetuneConfig read_finetune_config(const config::Table& root);

}  // namespace dmx::finetune
