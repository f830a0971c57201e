// Trains a small Stable Diffusion 1.x model from scratch, through the engine's own modules with autograd:
//
//   1. the VAE, as an autoencoder: L1 reconstruction + kl_weight × KL(posterior ‖ N(0, 1));
//   2. the UNet, on the trained VAE's latents scaled by 1 / their std: DDPM ε-prediction MSE, 1000 steps,
//      scaled_linear betas 0.00085 → 0.012, t uniform, captions "a photo of a {metaclass}" (some left empty);
//   3. optionally the VAE's decoder alone, on the same frozen latents: L1 reconstruction;
//   the text encoder keeps its random initialisation (SD's CLIP is frozen too).
//
//   auto result = run_pretrain(config);           // resumes from <work_dir>/checkpoint.safetensors
//
// Lower level, for tests and custom loops:
//
//   Pretrainer trainer(config, vocabulary_texts, "a photo of a clothing");
//   double loss = trainer.vae_step(batch);         // one AdamW step on the VAE
//   trainer.start_unet_phase(scaling_factor);
//   loss = trainer.unet_step(unet_batch);
//   trainer.start_decoder_phase();                 // optional
//   loss = trainer.decoder_step(decoder_batch);
//   trainer.write_model("models/fmnist-sd");
//
// The engine's layers hold the very tensors this class optimises (dmx::sd::SharedWeightsScope), so an AdamW step
// in place updates the models.
#pragma once

#include "diffmix/data/dataset.hpp"
#include "diffmix/sd/autoencoder_kl.hpp"
#include "diffmix/sd/clip_text_model.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"
#include "diffmix/sd/scheduling_ddpm.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"
#include "diffmix/sd_finetune/adamw.hpp"
#include "diffmix/sd_pretrain/clip_vocabulary.hpp"
#include "diffmix/sd_pretrain/model_writer.hpp"
#include "diffmix/sd_pretrain/pretrain_config.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dmx::pretrain {

// What is training now; the order of a run.
enum class Phase { Vae, UNet, VaeDecoder, Done };
std::string to_string(Phase phase);

// The draws of one VAE step.
struct VaeBatch {
  at::Tensor images;           // float [B, 3, R, R] in [-1, 1]
  at::Tensor posterior_noise;  // float [B, C, h, w] standard normal: the posterior sample's noise
};

// The draws of one UNet step.
struct UNetBatch {
  at::Tensor latents;        // float [B, C, h, w]: posterior samples already multiplied by the scaling factor
  at::Tensor noise;          // float [B, C, h, w] standard normal
  at::Tensor timesteps;      // int64 [B] in [0, 1000)
  at::Tensor empty_caption;  // bool [B]: true trains that example with the empty prompt
};

// The draws of one decoder step.
struct DecoderBatch {
  at::Tensor images;   // float [B, 3, R, R] in [-1, 1]
  at::Tensor latents;  // float [B, C, h, w]: the frozen encoder's posterior samples of those images (unscaled)
};

class Pretrainer {
 public:
  // Learns the tokenizer from `vocabulary_texts` (the caption and the class names), draws every initial weight
  // from config.seed, writes them as a model folder to <work_dir>/model and loads the engine's models from it
  // around the trainable tensors. Starts in the VAE phase at step 0.
  Pretrainer(const PretrainConfig& config, const std::vector<std::string>& vocabulary_texts, std::string caption);

  Phase phase() const { return phase_; }
  int64_t step() const { return step_; }  // steps taken in the current phase
  double scaling_factor() const { return scaling_factor_; }
  const std::string& caption() const { return caption_; }

  // L1 reconstruction + kl_weight × KL, with autograd recording through the VAE's weights.
  at::Tensor vae_loss(const VaeBatch& batch) const;
  // The ε-prediction MSE, with autograd recording through the UNet's weights.
  at::Tensor unet_loss(const UNetBatch& batch) const;
  // L1 between the decoded latents and the images, with autograd recording through the decoder's weights.
  at::Tensor decoder_loss(const DecoderBatch& batch) const;
  // One step of the current phase: forward, backward, gradient clipping, AdamW. Returns the loss.
  double vae_step(const VaeBatch& batch);
  double unet_step(const UNetBatch& batch);
  double decoder_step(const DecoderBatch& batch);

  // Ends the VAE phase: the VAE is frozen and its config records `scaling_factor`; the UNet's optimizer starts.
  void start_unet_phase(double scaling_factor);
  // Ends the UNet phase and starts the decoder's optimizer on decoder.* and post_quant_conv.* (the encoder and
  // quant_conv stay frozen, so the latents the UNet learnt do not move).
  void start_decoder_phase();
  // Ends the last phase.
  void finish();

  // Checkpoint = all weights + the current phase's optimizer state + phase, step, scaling factor + the seed,
  // architecture and image count that must not change across a resume.
  void save_checkpoint(const std::string& path, int64_t image_count) const;
  // Restores a checkpoint of the same seed, architecture and image count (an InvalidArgument error otherwise).
  // A finished checkpoint that took no decoder steps resumes in the decoder phase at step 0 when the config now
  // asks for decoder steps: a model pretrained without that phase gets it by adding [vae_decoder] and rerunning.
  void load_checkpoint(const std::string& path, int64_t image_count);

  // The diffusers folder of the current weights.
  void write_model(const std::string& folder) const;

  const sd::AutoencoderKL& vae() const { return *vae_; }
  const sd::UNet2DConditionModel& unet() const { return *unet_; }
  const sd::DDPMScheduler& noise_scheduler() const { return *ddpm_; }
  const sd::CLIPTokenizer& tokenizer() const { return *tokenizer_; }
  const ClipVocabulary& vocabulary() const { return vocabulary_; }
  const ModelWeights& weights() const { return weights_; }

 private:
  void load_engine_models(const std::string& folder);
  void start_optimizer(const NamedTensors& parameters, double learning_rate);
  double apply_step(const at::Tensor& loss);

  PretrainConfig config_;
  std::string caption_;
  ClipVocabulary vocabulary_;
  ModelWeights weights_;
  std::optional<sd::CLIPTokenizer> tokenizer_;
  std::optional<sd::CLIPTextModel> text_encoder_;
  std::optional<sd::AutoencoderKL> vae_;
  std::optional<sd::UNet2DConditionModel> unet_;
  std::optional<sd::DDPMScheduler> ddpm_;
  at::Tensor prompt_embeddings_;  // [2, L, D]: the caption, then the empty prompt
  std::optional<finetune::AdamW> optimizer_;
  Phase phase_ = Phase::Vae;
  int64_t step_ = 0;
  int64_t decoder_steps_ = 0;  // decoder steps of a finished run, recorded in its checkpoint
  double scaling_factor_ = 1.0;
};

struct PretrainRunOptions {
  bool resume = true;  // continue from <work_dir>/checkpoint.safetensors when it exists
  // Called after every step with the phase, the step number in it (1-based) and the loss; may call
  // dmx::request_cancel().
  std::function<void(Phase phase, int64_t step, double loss)> on_step;
};

struct PhaseResult {
  int64_t steps = 0;            // steps done in the phase (== its configured steps when finished)
  double last_loss = 0.0;
  double seconds_per_step = 0.0;  // of the steps this run took (0 when it took none)
};

struct PretrainResult {
  std::string output_dir;
  PhaseResult vae, unet, vae_decoder;
  double scaling_factor = 1.0;
  int64_t text_encoder_parameters = 0, vae_parameters = 0, unet_parameters = 0;
};

// The whole run on `dataset` (its images only): VAE steps, the latent encoding, UNet steps, decoder steps, then the
// model folder in config.output_dir. Checkpoints every checkpoint_every steps, at the phase change and on cancellation (then
// throws dmx::cancelled). Every random draw of step s of a phase comes from a generator seeded by (seed, phase, s),
// so a resumed run repeats the uninterrupted one bit for bit.
PretrainResult run_pretrain(const PretrainConfig& config, const data::Dataset& dataset,
                            const PretrainRunOptions& options = {});
// As above on the dataset config.data describes.
PretrainResult run_pretrain(const PretrainConfig& config, const PretrainRunOptions& options = {});

// "a photo of a clothing": the caption of every training image.
std::string pretraining_caption(const std::string& metaclass);

}  // namespace dmx::pretrain
