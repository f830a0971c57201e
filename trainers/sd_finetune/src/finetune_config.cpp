#include "diffmix/sd_finetune/finetune_config.hpp"

#include "diffmix/data/dataset_config.hpp"
#include "diffmix/error.hpp"

#include <sstream>
#include <string>

namespace dmx::finetune {
namespace {

constexpr config::Range kPositive{1, 1e12};
constexpr config::Range kNonNegative{0, 1e12};

Strategy parse_strategy(const std::string& name) {
  if (name == "ti") return Strategy::TextualInversion;
  if (name == "db") return Strategy::DreamBooth;
  return Strategy::Both;
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::Float32;
  if (name == "fp16") return Precision::Float16;
  if (name == "bf16") return Precision::BFloat16;
  return Precision::Auto;
}

// "cuda:1" → "cuda".
std::string device_type_of(const std::string& device) { return device.substr(0, device.find(':')); }

}  // namespace

void read_finetune_settings(const config::Table& table, FinetuneSettings& train, bool long_tail,
                            std::optional<Strategy> fixed_strategy) {
  if (fixed_strategy) train.strategy = *fixed_strategy;
  else train.strategy = parse_strategy(table.string("strategy", "ti+db", {"ti", "db", "ti+db"}));
  train.steps = table.integer("steps", train.steps, kPositive);
  train.batch_size = table.integer("batch_size", train.batch_size, kPositive);
  train.micro_batch_size = table.integer("micro_batch_size", 0, {0, static_cast<double>(train.batch_size)});
  train.resolution = table.integer("resolution", train.resolution, {8, 4096});
  train.learning_rate = table.number("learning_rate", train.learning_rate, {0.0, 1.0});
  train.lora_rank = table.integer("lora_rank", train.lora_rank, {1, 1024});
  train.initializer_token = table.string("initializer_token", "");
  train.checkpoint_every = table.integer("checkpoint_every", train.checkpoint_every, kPositive);
  const auto sampling = table.string("class_sampling", long_tail ? "balanced" : "uniform", {"uniform", "balanced"});
  train.class_sampling = sampling == "balanced" ? ClassSampling::Balanced : ClassSampling::Uniform;
  train.adam_beta1 = table.number("adam_beta1", train.adam_beta1, {0.0, 0.999999});
  train.adam_beta2 = table.number("adam_beta2", train.adam_beta2, {0.0, 0.999999});
  train.weight_decay = table.number("weight_decay", train.weight_decay, {0.0, 1.0});
  train.adam_epsilon = table.number("adam_epsilon", train.adam_epsilon, {1e-20, 1.0});
  train.max_grad_norm = table.number("max_grad_norm", train.max_grad_norm, {0.0, 1e6});
  train.precision = parse_precision(table.string("precision", "auto", {"auto", "fp32", "fp16", "bf16"}));
}

namespace {

// LibTorch 1.13's CPU autocast computes in bfloat16 only; caught here, before the model loads.
void check_precision_on_device(const config::Table& table, Precision precision, const std::string& device) {
  if (precision == Precision::Float16 && device_type_of(device) == "cpu") {
    throw dmx::config_error(table.where("precision") + ": key 'precision' in [finetune] is 'fp16', which [model] " +
                            "device '" + device + "' does not support (CPU autocast computes in bfloat16: use " +
                            "'bf16', 'fp32' or 'auto')");
  }
}

}  // namespace

std::string to_string(Strategy strategy) {
  switch (strategy) {
    case Strategy::TextualInversion: return "ti";
    case Strategy::DreamBooth: return "db";
    case Strategy::Both: return "ti+db";
  }
  return "ti+db";
}

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::Auto: return "auto";
    case Precision::Float32: return "fp32";
    case Precision::Float16: return "fp16";
    case Precision::BFloat16: return "bf16";
  }
  return "auto";
}

Precision resolve_precision(Precision precision, const std::string& device_type) {
  if (precision != Precision::Auto) return precision;
  return device_type == "cuda" ? Precision::Float16 : Precision::Float32;
}

bool learns_tokens(Strategy strategy) { return strategy != Strategy::DreamBooth; }
bool learns_lora(Strategy strategy) { return strategy != Strategy::TextualInversion; }

FinetuneConfig read_finetune_config(const config::Table& root) {
  FinetuneConfig config;
  config.source = root.source();
  config.seed = static_cast<uint64_t>(root.integer("seed", 0, kNonNegative));
  config.output_dir = root.string("output", config.output_dir);
  if (auto data = root.table("data")) config.data = data::read_dataset_spec(*data);
  const auto model = root.table("model");
  if (!model) throw dmx::config_error(root.source() + ": missing table [model] (key 'path': a diffusers SD 1.x folder)");
  config.model_path = model->required_string("path");
  config.device = model->string("device", "cpu");
  bool long_tail = config.data.imbalance > 1.0;
  if (auto train = root.table("finetune")) {
    read_finetune_settings(*train, config.train, long_tail);
    check_precision_on_device(*train, config.train.precision, config.device);
  } else {
    config.train.class_sampling = long_tail ? ClassSampling::Balanced : ClassSampling::Uniform;
  }
  return config;
}

std::string settings_toml(const FinetuneSettings& s) {
  std::ostringstream out;
  out.precision(12);
  out << "strategy = \"" << to_string(s.strategy) << "\"\nsteps = " << s.steps << "\nbatch_size = " << s.batch_size
      << "\nmicro_batch_size = " << s.micro_batch() << "\nresolution = " << s.resolution
      << "\nlearning_rate = " << s.learning_rate << "\nlora_rank = " << s.lora_rank << "\ninitializer_token = \""
      << s.initializer_token << "\"\nclass_sampling = \""
      << (s.class_sampling == ClassSampling::Balanced ? "balanced" : "uniform") << "\"\nadam_beta1 = " << s.adam_beta1
      << "\nadam_beta2 = " << s.adam_beta2 << "\nweight_decay = " << s.weight_decay
      << "\nadam_epsilon = " << s.adam_epsilon << "\nmax_grad_norm = " << s.max_grad_norm << "\nprecision = \""
      << to_string(s.precision) << "\"\n";
  return out.str();
}

}  // namespace dmx::finetune
