#include "diffmix/diffusion/source_settings.hpp"

#include <algorithm>

#include "diffmix/error.hpp"

namespace dmx::diffusion {
namespace {

constexpr config::Range kNonNegative{0, 1e12};

// "cuda:1" → "cuda".
std::string device_type_of(const std::string& device) { return device.substr(0, device.find(':')); }

// The model's dtype for `precision` on `device`. Half precision on the CPU is refused: LibTorch's CPU kernels lack
// float16 convolutions.
at::ScalarType dtype_of(const config::Table& table, const std::string& precision, const std::string& device) {
  const bool cuda = device_type_of(device) == "cuda";
  if (precision == "fp16") {
    if (!cuda)
      throw config_error(table.where("precision") + ": precision 'fp16' needs a CUDA device, the run's device is '" +
                         device + "' (use 'fp32', 'bf16' or 'auto')");
    return at::kHalf;
  }
  if (precision == "bf16") return at::kBFloat16;
  if (precision == "fp32") return at::kFloat;
  return cuda ? at::kHalf : at::kFloat;  // auto
}

finetune::Strategy finetune_strategy_of(const SynthesisStrategy& strategy) {
  return strategy.model == SynthesisModel::TextualInversion ? finetune::Strategy::TextualInversion
                                                            : finetune::Strategy::Both;
}

void read_finetune_table(const config::Table& table, SourceSettings& settings) {
  const auto sub = table.table("finetune");
  if (!sub) return;
  if (!settings.strategy.is_finetuned())
    throw config_error(table.where("finetune") + ": [" + sub->path() + "] fine-tunes the model, but '" +
                       settings.strategy.name + "' samples from the base model; remove the table");
  if (settings.pipeline.finetuned.empty())
    throw config_error(table.where("finetune") + ": [" + sub->path() + "] needs key 'finetuned' in [" + table.path() +
                       "]: the folder the fine-tuned artifacts are written to");
  settings.finetune_seed = static_cast<uint64_t>(sub->integer("seed", 0, kNonNegative));
  finetune::FinetuneSettings finetune;
  finetune::read_finetune_settings(*sub, finetune, false, finetune_strategy_of(settings.strategy));
  settings.finetune = finetune;
}

}  // namespace

std::vector<std::string> diffusion_augmenter_names() {
  std::vector<std::string> names;
  for (const auto& strategy : synthesis_strategies()) {
    std::string name = strategy.name;
    std::replace(name.begin(), name.end(), '-', '_');
    names.push_back(name);
  }
  return names;
}

const SynthesisStrategy& strategy_of_augmenter(const std::string& augmenter) {
  std::string name = augmenter;
  std::replace(name.begin(), name.end(), '_', '-');
  return find_synthesis_strategy(name);
}

SourceSettings read_source_settings(const config::Table& table, const std::string& augmenter,
                                    const std::string& device) {
  SourceSettings settings;
  table.skip("augmenter");
  settings.strategy = strategy_of_augmenter(augmenter);
  auto& pipeline = settings.pipeline;
  pipeline.model = table.required_string("model");
  pipeline.finetuned = table.string("finetuned", "");
  if (settings.strategy.is_finetuned() && pipeline.finetuned.empty())
    throw config_error(table.where("finetuned") + ": '" + augmenter + "' samples from a fine-tuned model: set key " +
                       "'finetuned' in [" + table.path() + "] to a `diffmix finetune` output folder (and add [" +
                       table.path() + ".finetune] to fine-tune into it when it is empty)");
  pipeline.steps = table.integer("steps", pipeline.steps, {1, 1000});
  pipeline.guidance = table.number("guidance", pipeline.guidance, {0.0, 100.0});
  pipeline.resolution = table.integer("resolution", pipeline.resolution, {8, 4096});
  settings.precision = table.string("precision", settings.precision, {"auto", "fp32", "fp16", "bf16"});
  pipeline.dtype = dtype_of(table, settings.precision, device);
  pipeline.device = at::Device(device);
  if (table.has("strengths") && !settings.strategy.uses_reference_image())
    throw config_error(table.where("strengths") + ": '" + augmenter + "' generates from text alone (txt2img); " +
                       "strengths apply to the image-to-image strategies only");
  settings.strengths = table.number_list("strengths", {}, {1e-6, 1.0});
  if (table.has("strengths") && settings.strengths.empty())
    throw config_error(table.where("strengths") + ": 'strengths' is empty; leave it out for the defaults");
  settings.gamma = table.number("gamma", settings.gamma, {1e-6, 100.0});
  settings.batch_size = table.integer("batch_size", settings.batch_size, {1, 4096});
  if (table.has("seed")) settings.seed = static_cast<uint64_t>(table.integer("seed", 0, kNonNegative));
  settings.stream_count = table.integer("stream_count", 0, kNonNegative);
  read_finetune_table(table, settings);
  return settings;
}

const char* source_settings_schema() {
  return R"json([
  {"key":"model","type":"string","doc":"diffusers Stable Diffusion 1.x folder (the base model)"},
  {"key":"finetuned","type":"string","doc":"`diffmix finetune` output folder (da_fusion, diff_gen, diff_aug, diff_mix)"},
  {"key":"strengths","type":"float_list","min":1e-6,"max":1.0,"doc":"SDEdit strengths, one drawn per sample"},
  {"key":"gamma","type":"float","default":0.5,"min":1e-6,"max":100,"doc":"soft label exponent"},
  {"key":"steps","type":"integer","default":25,"min":1,"max":1000,"doc":"DPM-Solver++ steps of the full schedule"},
  {"key":"guidance","type":"float","default":7.5,"min":0,"max":100,"doc":"classifier-free guidance scale"},
  {"key":"resolution","type":"integer","default":512,"min":8,"max":4096,"doc":"pixels the reference is resized to"},
  {"key":"batch_size","type":"integer","default":4,"min":1,"max":4096,"doc":"images per denoising batch"},
  {"key":"precision","type":"string","default":"auto","choices":["auto","fp32","fp16","bf16"]},
  {"key":"seed","type":"integer","min":0,"doc":"default: the run's seed"},
  {"key":"stream_count","type":"integer","default":0,"min":0,"doc":"samples next() makes; 0: 5 x |train|"},
  {"key":"finetune","type":"table","doc":"fine-tune into `finetuned` in prepare() unless it holds these settings' model",
   "keys":[
    {"key":"seed","type":"integer","default":0,"min":0,"doc":"the fine-tuning's own seed (not the run's)"},
    {"key":"steps","type":"integer","min":1},
    {"key":"batch_size","type":"integer","min":1},
    {"key":"micro_batch_size","type":"integer","min":0},
    {"key":"resolution","type":"integer","min":8,"max":4096},
    {"key":"learning_rate","type":"float","min":0,"max":1},
    {"key":"lora_rank","type":"integer","min":1,"max":1024},
    {"key":"initializer_token","type":"string"},
    {"key":"checkpoint_every","type":"integer","min":1},
    {"key":"class_sampling","type":"string","choices":["uniform","balanced"]},
    {"key":"adam_beta1","type":"float","min":0,"max":0.999999},
    {"key":"adam_beta2","type":"float","min":0,"max":0.999999},
    {"key":"weight_decay","type":"float","min":0,"max":1},
    {"key":"adam_epsilon","type":"float","min":1e-20,"max":1},
    {"key":"max_grad_norm","type":"float","min":0,"max":1e6},
    {"key":"precision","type":"string","choices":["auto","fp32","fp16","bf16"]}
   ]}
])json";
}

}  // namespace dmx::diffusion
