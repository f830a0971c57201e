#include "diffmix/sd_pretrain/pretrainer.hpp"

#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/state_dict.hpp"
#include "keyed_generator.hpp"

#include <cstdio>
#include <filesystem>
#include <map>

namespace dmx::pretrain {
namespace {

constexpr const char* kTextEncoderPrefix = "text_encoder.";
constexpr const char* kVaePrefix = "vae.";
constexpr const char* kUNetPrefix = "unet.";
constexpr const char* kOptimizerPrefix = "optimizer.";

std::map<std::string, at::Tensor> as_map(const NamedTensors& tensors) {
  return std::map<std::string, at::Tensor>(tensors.begin(), tensors.end());
}

NamedTensors trainable(NamedTensors tensors) {
  for (auto& [name, tensor] : tensors) tensor.requires_grad_(true);
  return tensors;
}

// Round-trips through std::stod exactly.
std::string exact_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

Phase parse_phase(const std::string& text, const std::string& path) {
  if (text == "vae") return Phase::Vae;
  if (text == "unet") return Phase::UNet;
  if (text == "vae_decoder") return Phase::VaeDecoder;
  if (text == "done") return Phase::Done;
  throw dmx::format_error(path + ": metadata phase is '" + text +
                          "', expected 'vae', 'unet', 'vae_decoder' or 'done'");
}

std::string metadata_value(const std::map<std::string, std::string>& metadata, const std::string& key,
                           const std::string& path) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) throw dmx::format_error(path + ": metadata key '" + key + "' is missing");
  return found->second;
}

// Copies the checkpoint's `prefix`ed tensors into `tensors` in place (the engine's layers hold them); every one
// must be present with the same shape, checked before anything is copied.
void restore(NamedTensors& tensors, const io::SafetensorsFile& file, const std::string& prefix) {
  for (const auto& [name, tensor] : tensors) {
    const auto key = prefix + name;
    if (!file.contains(key)) throw dmx::format_error(file.path() + ": tensor '" + key + "' is missing");
    if (file.shape(key) != tensor.sizes().vec()) {
      throw dmx::shape_error(file.path() + ": tensor '" + key + "' has shape " + c10::str(file.shape(key)) +
                             ", expected " + c10::str(tensor.sizes()));
    }
  }
  at::NoGradGuard no_grad;
  for (auto& [name, tensor] : tensors) tensor.copy_(file.tensor(prefix + name));
}

}  // namespace

std::string to_string(Phase phase) {
  switch (phase) {
    case Phase::Vae: return "vae";
    case Phase::UNet: return "unet";
    case Phase::VaeDecoder: return "vae_decoder";
    case Phase::Done: return "done";
  }
  return "vae";
}

std::string pretraining_caption(const std::string& metaclass) { return "a photo of a " + metaclass; }

Pretrainer::Pretrainer(const PretrainConfig& config, const std::vector<std::string>& vocabulary_texts,
                       std::string caption)
    : config_(config), caption_(std::move(caption)) {
  std::vector<std::string> texts = vocabulary_texts;
  texts.push_back(caption_);
  vocabulary_ = ClipVocabulary::learn(texts);
  const auto& arch = config_.architecture;
  const auto seed = config_.seed;
  weights_.text_encoder = initialize(text_encoder_layout(arch.text_encoder, vocabulary_.size()),
                                     keyed_generator(seed, RandomPurpose::TextEncoderInit));
  weights_.vae = trainable(initialize(vae_layout(arch.vae), keyed_generator(seed, RandomPurpose::VaeInit)));
  weights_.unet = trainable(initialize(unet_layout(arch.unet, arch.text_encoder.hidden_size, arch.vae.latent_channels),
                                       keyed_generator(seed, RandomPurpose::UNetInit)));
  const auto staging = (std::filesystem::path(config_.work_dir) / "model").string();
  write_model_folder(staging, arch, vocabulary_, weights_, scaling_factor_);
  load_engine_models(staging);
  start_optimizer(weights_.vae, config_.train.vae.learning_rate);
}

void Pretrainer::load_engine_models(const std::string& folder) {
  {
    sd::SharedWeightsScope text(text_encoder_weights_path(folder), as_map(weights_.text_encoder));
    sd::SharedWeightsScope vae(vae_weights_path(folder), as_map(weights_.vae));
    sd::SharedWeightsScope unet(unet_weights_path(folder), as_map(weights_.unet));
    text_encoder_.emplace(sd::CLIPTextModel::load(folder));
    vae_.emplace(sd::AutoencoderKL::load(folder));
    unet_.emplace(sd::UNet2DConditionModel::load(folder));
  }
  tokenizer_.emplace(sd::CLIPTokenizer::load(folder + "/tokenizer"));
  ddpm_.emplace(sd::DDPMScheduler::load(folder));
  // The text encoder is frozen: its two prompts are encoded once.
  at::NoGradGuard no_grad;
  prompt_embeddings_ = text_encoder_->encode(tokenizer_->encode_batch({caption_, ""}).input_ids);
}

void Pretrainer::start_optimizer(const NamedTensors& parameters, double learning_rate) {
  const auto& t = config_.train;
  optimizer_.emplace(parameters, finetune::AdamWOptions{learning_rate, t.adam_beta1, t.adam_beta2, t.weight_decay,
                                                        t.adam_epsilon});
}

at::Tensor Pretrainer::vae_loss(const VaeBatch& batch) const {
  const auto posterior = vae_->encode(batch.images);
  const auto reconstruction = vae_->decode(posterior.sample(batch.posterior_noise));
  const auto reconstruction_loss = (reconstruction - batch.images).abs().mean();
  // KL(N(μ, σ²) ‖ N(0, 1)) summed over a latent, averaged over the batch (diffusers' DiagonalGaussian.kl()).
  const auto variance = posterior.std() * posterior.std();
  const auto kl = 0.5 * (posterior.mean() * posterior.mean() + variance - 1.0 - posterior.logvar()).sum({1, 2, 3}).mean();
  return reconstruction_loss + config_.train.kl_weight * kl;
}

at::Tensor Pretrainer::unet_loss(const UNetBatch& batch) const {
  const auto noisy = ddpm_->add_noise(batch.latents, batch.noise, batch.timesteps);
  const auto target = ddpm_->training_target(batch.latents, batch.noise, batch.timesteps);
  const auto context = prompt_embeddings_.index_select(0, batch.empty_caption.to(at::kLong));
  return at::mse_loss(unet_->forward(noisy, batch.timesteps, context), target);
}

at::Tensor Pretrainer::decoder_loss(const DecoderBatch& batch) const {
  return (vae_->decode(batch.latents) - batch.images).abs().mean();
}

double Pretrainer::apply_step(const at::Tensor& loss) {
  loss.backward();
  finetune::clip_gradient_norm(optimizer_->params(), config_.train.max_grad_norm);
  optimizer_->step();
  optimizer_->zero_grad();
  ++step_;
  return loss.item<double>();
}

double Pretrainer::vae_step(const VaeBatch& batch) {
  if (phase_ != Phase::Vae) throw dmx::invalid_argument("a VAE step in the " + to_string(phase_) + " phase");
  return apply_step(vae_loss(batch));
}

double Pretrainer::unet_step(const UNetBatch& batch) {
  if (phase_ != Phase::UNet) throw dmx::invalid_argument("a UNet step in the " + to_string(phase_) + " phase");
  return apply_step(unet_loss(batch));
}

double Pretrainer::decoder_step(const DecoderBatch& batch) {
  if (phase_ != Phase::VaeDecoder) throw dmx::invalid_argument("a decoder step in the " + to_string(phase_) + " phase");
  return apply_step(decoder_loss(batch));
}

void Pretrainer::start_unet_phase(double scaling_factor) {
  if (phase_ != Phase::Vae) throw dmx::invalid_argument("the UNet phase starts after the VAE phase");
  for (auto& [name, tensor] : weights_.vae) tensor.requires_grad_(false);
  scaling_factor_ = scaling_factor;
  phase_ = Phase::UNet;
  step_ = 0;
  start_optimizer(weights_.unet, config_.train.unet.learning_rate);
}

void Pretrainer::start_decoder_phase() {
  if (phase_ != Phase::UNet) throw dmx::invalid_argument("the decoder phase starts after the UNet phase");
  for (auto& [name, tensor] : weights_.unet) tensor.requires_grad_(false);
  NamedTensors decoder;
  for (auto& [name, tensor] : weights_.vae) {
    if (name.rfind("decoder.", 0) == 0 || name.rfind("post_quant_conv.", 0) == 0) {
      tensor.requires_grad_(true);
      decoder.emplace_back(name, tensor);
    }
  }
  phase_ = Phase::VaeDecoder;
  step_ = 0;
  start_optimizer(decoder, config_.train.vae_decoder.learning_rate);
}

void Pretrainer::finish() {
  for (auto& [name, tensor] : weights_.unet) tensor.requires_grad_(false);
  for (auto& [name, tensor] : weights_.vae) tensor.requires_grad_(false);
  if (phase_ == Phase::VaeDecoder) decoder_steps_ = step_;
  phase_ = Phase::Done;
  step_ = 0;
}

void Pretrainer::save_checkpoint(const std::string& path, int64_t image_count) const {
  NamedTensors tensors;
  const auto add = [&](const NamedTensors& from, const std::string& prefix) {
    for (const auto& [name, tensor] : from) tensors.emplace_back(prefix + name, tensor.detach());
  };
  add(weights_.text_encoder, kTextEncoderPrefix);
  add(weights_.vae, kVaePrefix);
  add(weights_.unet, kUNetPrefix);
  if (phase_ != Phase::Done) add(optimizer_->state(), kOptimizerPrefix);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  io::save_safetensors(path, tensors,
                       {{"phase", to_string(phase_)},
                        {"step", std::to_string(step_)},
                        {"scaling_factor", exact_text(scaling_factor_)},
                        {"seed", std::to_string(config_.seed)},
                        {"architecture", config_.architecture.signature()},
                        {"images", std::to_string(image_count)},
                        {"vae_decoder_steps", std::to_string(decoder_steps_)}});
}

void Pretrainer::load_checkpoint(const std::string& path, int64_t image_count) {
  const auto file = io::SafetensorsFile::open(path);
  const auto& metadata = file.metadata();
  const auto expect = [&](const std::string& key, const std::string& here) {
    const auto saved = metadata_value(metadata, key, path);
    if (saved != here) {
      throw dmx::invalid_argument(path + ": checkpoint has " + key + " '" + saved + "', this run has '" + here +
                                  "' (use another work_dir or start fresh)");
    }
  };
  // Step s draws from (seed, phase, s) and indexes the images: these make the rest of the state an exact resume needs.
  expect("seed", std::to_string(config_.seed));
  expect("architecture", config_.architecture.signature());
  expect("images", std::to_string(image_count));
  const auto phase = parse_phase(metadata_value(metadata, "phase", path), path);
  const auto step_text = metadata_value(metadata, "step", path);
  const auto scaling_text = metadata_value(metadata, "scaling_factor", path);
  // Absent from checkpoints written before the decoder phase existed: those took no decoder steps.
  const auto decoder_text = metadata.count("vae_decoder_steps") ? metadata.at("vae_decoder_steps") : "0";
  int64_t step = 0, decoder_steps = 0;
  double scaling = 1.0;
  try {
    step = std::stoll(step_text);
    scaling = std::stod(scaling_text);
    decoder_steps = std::stoll(decoder_text);
  } catch (const std::exception&) {
    throw dmx::format_error(path + ": metadata step '" + step_text + "' / scaling_factor '" + scaling_text +
                            "' / vae_decoder_steps '" + decoder_text + "' is not a number");
  }

  restore(weights_.text_encoder, file, kTextEncoderPrefix);
  restore(weights_.vae, file, kVaePrefix);
  restore(weights_.unet, file, kUNetPrefix);
  if (phase != Phase::Vae) start_unet_phase(scaling);
  if (phase == Phase::VaeDecoder) start_decoder_phase();
  if (phase == Phase::Done && decoder_steps == 0 && config_.train.vae_decoder.steps > 0) {
    start_decoder_phase();
    step = 0;
  } else if (phase == Phase::Done) {
    finish();
    decoder_steps_ = decoder_steps;
  } else {
    std::map<std::string, at::Tensor> state;
    for (const auto& name : file.names()) {
      if (name.rfind(kOptimizerPrefix, 0) == 0) state[name.substr(std::string(kOptimizerPrefix).size())] = file.tensor(name);
    }
    optimizer_->load_state(state, step, path);
  }
  if (phase_ != Phase::Done) step_ = step;
  // The text encoder's weights may have changed: encode the prompts again.
  at::NoGradGuard no_grad;
  prompt_embeddings_ = text_encoder_->encode(tokenizer_->encode_batch({caption_, ""}).input_ids);
}

void Pretrainer::write_model(const std::string& folder) const {
  write_model_folder(folder, config_.architecture, vocabulary_, weights_, scaling_factor_);
}

}  // namespace dmx::pretrain
