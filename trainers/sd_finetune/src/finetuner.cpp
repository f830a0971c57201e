#include "diffmix/sd_finetune/finetuner.hpp"

#include "diffmix/distributed.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/torch_compat.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

namespace dmx::finetune {
namespace {

constexpr const char* kParamPrefix = "param.";
constexpr const char* kOptimizerPrefix = "optimizer.";

at::Device parse_device(const std::string& device) {
  try {
    return at::Device(device);
  } catch (const c10::Error&) {
    throw dmx::config_error("[model] device '" + device + "' is not a device name (expected 'cpu', 'cuda' or 'cuda:N')");
  }
}

std::string metadata_value(const std::map<std::string, std::string>& metadata, const std::string& key,
                           const std::string& path) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) throw dmx::format_error(path + ": metadata key '" + key + "' is missing");
  return found->second;
}

// The metadata value of `key` read whole by `parse` (std::stoll, std::stod); `expected` names the kind in errors.
template <typename Parse>
auto metadata_parsed(const std::map<std::string, std::string>& metadata, const std::string& key,
                     const std::string& path, Parse parse, const char* expected) {
  const auto text = metadata_value(metadata, key, path);
  try {
    size_t used = 0;
    const auto value = parse(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw dmx::format_error(path + ": metadata key '" + key + "' is '" + text + "', expected " + expected);
}

int64_t metadata_integer(const std::map<std::string, std::string>& metadata, const std::string& key,
                         const std::string& path) {
  return metadata_parsed(
      metadata, key, path, [](const std::string& text, size_t* used) { return std::stoll(text, used); },
      "an integer");
}

double metadata_number(const std::map<std::string, std::string>& metadata, const std::string& key,
                       const std::string& path) {
  return metadata_parsed(
      metadata, key, path, [](const std::string& text, size_t* used) { return std::stod(text, used); }, "a number");
}

// Round-trips through std::stod exactly.
std::string exact_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

// The resolved precision for `device`, checked against what the device's autocast supports.
Precision precision_for(Precision requested, const at::Device& device) {
  const auto precision = resolve_precision(requested, device.is_cuda() ? "cuda" : "cpu");
  if (precision == Precision::Float16 && !device.is_cuda()) {
    throw dmx::config_error("[finetune] precision 'fp16' needs a CUDA device, the model is on '" + device.str() +
                            "' (use 'bf16', 'fp32' or 'auto')");
  }
  if (precision == Precision::BFloat16 && !device.is_cuda() && !device.is_cpu()) {
    throw dmx::config_error("[finetune] precision 'bf16' needs a CPU or CUDA device, the model is on '" + device.str() +
                            "' (use 'fp32')");
  }
  return precision;
}

at::ScalarType compute_dtype_of(Precision precision) {
  switch (precision) {
    case Precision::Float16: return at::kHalf;
    case Precision::BFloat16: return at::kBFloat16;
    default: return at::kFloat;
  }
}

}  // namespace

Finetuner::Finetuner(const std::string& model_path, const FinetuneSettings& settings,
                     std::vector<std::string> class_names, std::string metaclass, uint64_t seed,
                     const std::string& device)
    : model_path_(model_path),
      settings_(settings),
      class_names_(std::move(class_names)),
      metaclass_(std::move(metaclass)),
      seed_(seed),
      device_(parse_device(device)),
      precision_(precision_for(settings.precision, device_)),
      compute_dtype_(compute_dtype_of(precision_)),
      tokenizer_(sd::CLIPTokenizer::load(model_path + "/tokenizer")),
      text_encoder_(sd::CLIPTextModel::load(model_path, at::kFloat, device_)),
      unet_(sd::UNet2DConditionModel::load(model_path, at::kFloat, device_)),
      vae_(sd::AutoencoderKL::load(model_path, at::kFloat, device_)),
      ddpm_(sd::DDPMScheduler::load(model_path)) {
  if (class_names_.empty()) throw dmx::invalid_argument("fine-tuning needs at least one class");
  base_ = BaseModelSignature::of(text_encoder_, unet_);
  for (size_t i = 0; i < class_names_.size(); ++i) {
    prompts_.push_back(training_prompt(settings_.strategy, static_cast<int64_t>(i), class_names_[i], metaclass_));
  }
  if (learns_lora(settings_.strategy)) {
    lora_ = UNetLora::attach(unet_, settings_.lora_rank, at::make_generator<at::CPUGeneratorImpl>(seed));
    parameters_ = lora_->parameters();
  }
  if (learns_tokens(settings_.strategy)) {
    std::vector<std::string> tokens;
    for (size_t i = 0; i < class_names_.size(); ++i) tokens.push_back(class_token(static_cast<int64_t>(i)));
    const auto initializer = settings_.initializer_token.empty() ? metaclass_ : settings_.initializer_token;
    tokens_ = LearnedTokens::add(tokens, initializer, tokenizer_, text_encoder_);
    for (const auto& parameter : tokens_->parameters()) parameters_.push_back(parameter);
  } else {
    // The text side is frozen: each class prompt is encoded once.
    at::NoGradGuard no_grad;
    fixed_prompt_embeddings_ = text_encoder_.encode(tokenizer_.encode_batch(prompts_).input_ids.to(device_));
  }
  optimizer_.emplace(parameters_, AdamWOptions{settings_.learning_rate, settings_.adam_beta1, settings_.adam_beta2,
                                               settings_.weight_decay, settings_.adam_epsilon});
  // bfloat16 has float32's exponent range: its gradients do not underflow, so only float16 needs loss scaling.
  if (precision_ == Precision::Float16) scaler_.emplace();
}

void Finetuner::use_loss_scaling(LossScalerOptions options) { scaler_.emplace(options); }

at::Tensor Finetuner::prompt_embeddings(const std::vector<int64_t>& labels) {
  for (const auto label : labels) {
    if (label < 0 || label >= static_cast<int64_t>(class_names_.size())) {
      throw dmx::invalid_argument("label " + std::to_string(label) + " is outside the " +
                                  std::to_string(class_names_.size()) + " classes being fine-tuned");
    }
  }
  if (!tokens_) {
    const auto index = at::tensor(labels, at::kLong).to(device_);
    return fixed_prompt_embeddings_.index_select(0, index);
  }
  std::vector<std::string> prompts;
  for (const auto label : labels) prompts.push_back(prompts_[static_cast<size_t>(label)]);
  tokens_->bind(text_encoder_);
  return text_encoder_.encode(tokenizer_.encode_batch(prompts).input_ids.to(device_));
}

at::Tensor Finetuner::loss(const TrainingBatch& batch) {
  const auto batch_size = batch.latents.size(0);
  if (batch.noise.sizes() != batch.latents.sizes() || batch.timesteps.numel() != batch_size ||
      static_cast<int64_t>(batch.labels.size()) != batch_size) {
    throw dmx::shape_error("training batch: latents " + c10::str(batch.latents.sizes()) + ", noise " +
                           c10::str(batch.noise.sizes()) + ", timesteps " + c10::str(batch.timesteps.sizes()) + " and " +
                           std::to_string(batch.labels.size()) + " labels must describe the same examples");
  }
  const auto latents = batch.latents.to(device_, at::kFloat);
  const auto noise = batch.noise.to(device_, at::kFloat);
  const auto timesteps = batch.timesteps.to(device_, at::kLong);
  const auto noisy = ddpm_.add_noise(latents, noise, timesteps);
  const auto target = ddpm_.training_target(latents, noise, timesteps);
  at::Tensor prediction;
  {
    std::optional<compat::AutocastGuard> autocast;
    if (compute_dtype_ != at::kFloat) autocast.emplace(device_.type(), compute_dtype_);
    prediction = unet_.forward(noisy, timesteps, prompt_embeddings(batch.labels));
  }
  // The loss is reduced in float32 whatever the UNet computed in.
  return at::mse_loss(prediction.to(at::kFloat), target.to(at::kFloat));
}

int Finetuner::processes() const { return group_ ? group_->size() : 1; }

void Finetuner::share_gradients_with(std::shared_ptr<dist::ProcessGroup> group) {
  group_ = std::move(group);
  reducer_.reset();
  if (processes() == 1) return;
  std::vector<at::Tensor> tensors;
  for (const auto& [name, parameter] : parameters_) tensors.push_back(parameter);
  reducer_ = std::make_shared<dist::GradientReducer>(group_, std::move(tensors));
}

void Finetuner::start_like_main() {
  if (processes() == 1) return;
  std::vector<at::Tensor> state;
  for (const auto& [name, parameter] : parameters_) state.push_back(parameter);
  for (const auto& moment : optimizer_->moments()) state.push_back(moment);
  dist::broadcast_from_main(*group_, state, "the parameters and optimizer state at the start");
  const auto scale = scaler_ ? scaler_->state() : LossScalerState{};
  std::vector<at::Tensor> counts{at::tensor({static_cast<double>(step_), static_cast<double>(optimizer_->step_count()),
                                             scale.scale, static_cast<double>(scale.growth_tracker)},
                                            at::kDouble)
                                     .to(device_)};
  group_->broadcast(counts, 0, "the step at the start");
  const at::Tensor values = counts.front().cpu();
  step_ = static_cast<int64_t>(values[0].item<double>());
  optimizer_->set_step_count(static_cast<int64_t>(values[1].item<double>()));
  if (scaler_) scaler_->load_state({values[2].item<double>(), static_cast<int64_t>(values[3].item<double>())}, "rank 0");
  if (tokens_) tokens_->bind_detached(text_encoder_);
}

double Finetuner::train_step(const TrainingBatch& batch) {
  const auto batch_size = batch.latents.size(0);
  const auto micro = std::max<int64_t>(1, settings_.micro_batch());
  // Each example's loss counts 1 / (examples of the whole batch), times the number of processes whose gradients are
  // averaged: the average is then the gradient of the whole batch's mean even when the shares differ in size.
  const double whole = static_cast<double>(batch.whole_size > 0 ? batch.whole_size : batch_size) / processes();
  double total = 0.0;
  for (int64_t begin = 0; begin < batch_size; begin += micro) {
    const auto end = std::min(batch_size, begin + micro);
    TrainingBatch part{batch.latents.slice(0, begin, end), batch.noise.slice(0, begin, end),
                       batch.timesteps.slice(0, begin, end),
                       std::vector<int64_t>(batch.labels.begin() + begin, batch.labels.begin() + end)};
    // Each micro-batch's mean, weighted by its share: the gradient of the whole batch's mean.
    const double share = static_cast<double>(end - begin) / whole;
    const auto part_loss = loss(part) * share;
    // The last micro-batch's backward also averages the gradients over the processes, bucket by bucket.
    if (reducer_ && end == batch_size)
      reducer_->reduce_next_backward("the gradients of step " + std::to_string(step_ + 1));
    (scaler_ ? scaler_->scale(part_loss) : part_loss).backward();
    total += part_loss.item<double>();
  }
  if (reducer_) reducer_->finish();
  apply_gradients();
  ++step_;
  if (tokens_) tokens_->bind_detached(text_encoder_);
  return total;
}

void Finetuner::apply_gradients() {
  if (scaler_) {
    scaler_->step(*optimizer_, settings_.max_grad_norm);
    return;
  }
  clip_gradient_norm(parameters_, settings_.max_grad_norm);
  optimizer_->step();
  optimizer_->zero_grad();
}

void Finetuner::save_checkpoint(const std::string& path) const {
  NamedTensors tensors;
  for (const auto& [name, tensor] : parameters_) tensors.emplace_back(kParamPrefix + name, tensor.detach().to(at::kCPU));
  for (const auto& [name, tensor] : optimizer_->state()) tensors.emplace_back(kOptimizerPrefix + name, tensor);
  std::map<std::string, std::string> metadata = {{"step", std::to_string(step_)},
                                                 {"optimizer_step", std::to_string(optimizer_->step_count())},
                                                 {"strategy", to_string(settings_.strategy)},
                                                 {"lora_rank", std::to_string(lora_ ? settings_.lora_rank : 0)},
                                                 {"classes", std::to_string(class_names_.size())},
                                                 {"seed", std::to_string(seed_)},
                                                 {"processes", std::to_string(processes())}};
  if (scaler_) {
    metadata["loss_scale"] = exact_text(scaler_->state().scale);
    metadata["loss_scale_growth_tracker"] = std::to_string(scaler_->state().growth_tracker);
  }
  io::save_safetensors(path, tensors, metadata);
}

void Finetuner::load_checkpoint(const std::string& path) {
  const auto file = io::SafetensorsFile::open(path);
  const auto& metadata = file.metadata();
  const auto expect = [&](const std::string& key, const std::string& here) {
    const auto saved = metadata_value(metadata, key, path);
    if (saved != here) {
      throw dmx::invalid_argument(path + ": checkpoint has " + key + " " + saved + ", this run has " + here +
                                  " (use another output folder or start fresh)");
    }
  };
  expect("strategy", to_string(settings_.strategy));
  expect("lora_rank", std::to_string(lora_ ? settings_.lora_rank : 0));
  expect("classes", std::to_string(class_names_.size()));
  // Step s draws its batch from (seed, s): the seed is the rest of the random state an exact resume needs.
  expect("seed", std::to_string(seed_));
  // The shares, and so the floating-point sums, depend on the number of processes.
  const auto processes_saved = metadata.count("processes") ? metadata_value(metadata, "processes", path) : "1";
  if (processes_saved != std::to_string(processes())) {
    throw dmx::invalid_argument(path + ": this checkpoint was written by " + processes_saved +
                                (processes_saved == "1" ? " process" : " processes fine-tuning together") +
                                " and this run has " + std::to_string(processes()) + ": resume it with " +
                                "--nproc-per-node " + processes_saved + " (or WORLD_SIZE=" + processes_saved +
                                "), or start over with --fresh");
  }
  const auto step = metadata_integer(metadata, "step", path);
  // Checkpoints from before skipped updates existed have one count for both.
  const auto optimizer_step =
      metadata.count("optimizer_step") ? metadata_integer(metadata, "optimizer_step", path) : step;
  if (optimizer_step < 0 || optimizer_step > step) {
    throw dmx::format_error(path + ": metadata optimizer_step " + std::to_string(optimizer_step) +
                            " must be between 0 and step " + std::to_string(step));
  }
  // A run that was not scaling its loss (or an older checkpoint) leaves this run's scaler at its initial state.
  std::optional<LossScaler> scaler = scaler_;
  if (scaler && metadata.count("loss_scale")) {
    scaler->load_state({metadata_number(metadata, "loss_scale", path),
                        metadata_integer(metadata, "loss_scale_growth_tracker", path)},
                       path);
  }

  std::map<std::string, at::Tensor> params, state;
  for (const auto& name : file.names()) {
    if (name.rfind(kParamPrefix, 0) == 0) params[name.substr(std::string(kParamPrefix).size())] = file.tensor(name);
    if (name.rfind(kOptimizerPrefix, 0) == 0) state[name.substr(std::string(kOptimizerPrefix).size())] = file.tensor(name);
  }
  for (const auto& [name, tensor] : parameters_) {
    const auto found = params.find(name);
    if (found == params.end()) throw dmx::format_error(path + ": parameter '" + name + "' is missing");
    if (!found->second.sizes().equals(tensor.sizes())) {
      throw dmx::shape_error(path + ": parameter '" + name + "' has shape " + c10::str(found->second.sizes()) +
                             ", expected " + c10::str(tensor.sizes()));
    }
  }
  optimizer_->load_state(state, optimizer_step, path);  // checks before anything is copied
  scaler_ = scaler;
  step_ = step;
  at::NoGradGuard no_grad;
  for (auto& [name, tensor] : parameters_) tensor.copy_(params.at(name));
  if (tokens_) tokens_->bind_detached(text_encoder_);
}

void Finetuner::save_artifacts(const std::string& folder) {
  std::filesystem::create_directories(folder);
  const auto in_folder = [&](const char* file) { return (std::filesystem::path(folder) / file).string(); };
  if (lora_) lora_->save(in_folder(kLoraFile), {{"rank", std::to_string(settings_.lora_rank)}});
  if (tokens_) tokens_->save(in_folder(kEmbeddingsFile), tokenizer_, text_encoder_);
  FinetuneManifest manifest;
  manifest.base_model = model_path_;
  manifest.strategy = settings_.strategy;
  manifest.lora_rank = lora_ ? settings_.lora_rank : 0;
  manifest.steps = step_;
  manifest.metaclass = metaclass_;
  manifest.class_names = class_names_;
  if (tokens_) manifest.tokens = tokens_->tokens();
  manifest.prompts = prompts_;
  manifest.base = base_;
  auto settings = settings_;
  settings.precision = precision_;  // what "auto" became on this device
  manifest.seed = static_cast<int64_t>(seed_);
  manifest.config_toml = settings_toml(settings);
  manifest.write(in_folder(kManifestFile));
}

}  // namespace dmx::finetune
