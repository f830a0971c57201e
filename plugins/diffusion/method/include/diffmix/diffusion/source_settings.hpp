// The keys of a diffusion sample source's table, read once for the plugin and for every command that builds the
// same pipeline (`diffmix grid`):
//
//   [synthesis.source]
//   augmenter = "diff_mix"            # real_gen, real_aug, real_mix, da_fusion, diff_gen, diff_aug, diff_mix
//   model = "models/sd-1.5"           # diffusers folder (the base model)
//   finetuned = "runs/ft-cub"         # `diffmix finetune` output; the fine-tuned strategies need it
//   strengths = [0.5, 0.7, 0.9]       # default: the strategy's; one value fixes the strength
//   gamma = 0.5                       # soft label (1 − s^γ)·onehot(source) + s^γ·onehot(target)
//   steps = 25
//   guidance = 7.5
//   resolution = 512
//   batch_size = 4                    # images per denoising batch
//   precision = "auto"                # auto (fp32 on the CPU, fp16 on CUDA), fp32, fp16, bf16
//   seed = 0                          # default: the run's seed
//   stream_count = 0                  # samples next() makes; 0: multiplier 5 × |train|
//   [synthesis.source.finetune]       # fine-tunes into `finetuned` in prepare() unless it holds this model
//   steps = 35000                     # ... the keys of `diffmix finetune`'s [finetune] except `strategy`
//   seed = 0                          # the fine-tuning's own seed: every run naming the folder shares it
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diffmix/config.hpp"
#include "diffmix/diffusion/synthesis_pipeline.hpp"
#include "diffmix/diffusion/synthesis_strategy.hpp"
#include "diffmix/sd_finetune/finetune_config.hpp"

namespace dmx::diffusion {

struct SourceSettings {
  SynthesisStrategy strategy;
  SynthesisPipelineOptions pipeline;  // dtype and device resolved from `precision` and the run's device
  std::string precision = "auto";
  std::vector<double> strengths;  // empty: the strategy's defaults
  double gamma = 0.5;
  int64_t batch_size = 4;
  std::optional<uint64_t> seed;
  int64_t stream_count = 0;
  std::optional<finetune::FinetuneSettings> finetune;  // present: prepare() may fine-tune
  // [finetune] seed: the fine-tuned folder is shared by every run that names it, whatever the run's seed, so the
  // fine-tuning has a seed of its own.
  uint64_t finetune_seed = 0;
};

// The strategy an augmenter name stands for: "diff_mix" → "diff-mix". An unknown name is a NotFound error.
const SynthesisStrategy& strategy_of_augmenter(const std::string& augmenter);
// The seven augmenter names, in the strategies' order.
std::vector<std::string> diffusion_augmenter_names();

// Reads every key above from `table` (the augmenter's own table; `augmenter` is skipped), with file:line:col errors
// for a wrong type or range. Does not call finish(). `device` ("cpu", "cuda:1") is where the model runs.
SourceSettings read_source_settings(const config::Table& table, const std::string& augmenter,
                                    const std::string& device);

// The JSON schema of those keys (dmx_augmenter_factory::config_schema_json), so the host checks them before the
// plugin is created.
const char* source_settings_schema();

}  // namespace dmx::diffusion
