// Fine-tunes Stable Diffusion on a labelled image set (docs/method.md, "Fine-tuning"): textual inversion, LoRA or both,
// with the ε-prediction MSE loss under DDPM noise.
//
//   auto config = read_finetune_config(document.root());
//   auto result = run_finetune(config, *dataset);        // resumes from <output>/checkpoint.safetensors
//
// Lower level, for tests and custom loops:
//
//   Finetuner tuner(config.model_path, config.train, class_names, metaclass, seed);
//   double loss = tuner.train_step(batch);              // one training step (gradient accumulation inside)
//   tuner.save_artifacts("out/");
//
// settings.precision picks the forward passes' dtype: mixed precision runs the text encoder (when it learns tokens) and
// the UNet under autocast, while the weights, the trainable parameters, AdamW's state and the loss stay float32; fp16
// adds dynamic loss scaling, whose skipped steps (inf/nan gradients) still count as training steps.
//
// Data parallel (FinetuneRunOptions::group): every process draws the step's whole batch from (seed, step) and trains
// on its contiguous share of it; the gradients are averaged over the processes before clipping, so every process
// takes the update one process would take on the whole batch. Rank 0 alone writes the output folder.
#pragma once

#include "diffmix/data/dataset.hpp"
#include "diffmix/sd/autoencoder_kl.hpp"
#include "diffmix/sd/clip_text_model.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"
#include "diffmix/sd/scheduling_ddpm.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"
#include "diffmix/sd_finetune/adamw.hpp"
#include "diffmix/sd_finetune/artifacts.hpp"
#include "diffmix/sd_finetune/finetune_config.hpp"
#include "diffmix/sd_finetune/learned_tokens.hpp"
#include "diffmix/sd_finetune/lora_adapters.hpp"
#include "diffmix/sd_finetune/loss_scaler.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dmx::dist {
class GradientReducer;
class ProcessGroup;
}

namespace dmx::finetune {

// One optimizer step's worth of training examples.
struct TrainingBatch {
  at::Tensor latents;    // [B, C, h, w] clean latents, already scaled by the VAE's scaling_factor
  at::Tensor noise;      // [B, C, h, w] standard normal
  at::Tensor timesteps;  // int64 [B] in [0, num_train_timesteps)
  std::vector<int64_t> labels;  // class index per example
  // With data parallelism this batch is one process's share of the step's batch, which has `whole_size` examples
  // (0: this batch is the whole of it).
  int64_t whole_size = 0;
};

class Finetuner {
 public:
  // Loads the model folder's tokenizer, text encoder, UNet, VAE and scheduler (float32 on `device`), adds one token
  // per class and/or LoRA adapters as the strategy says. `seed` draws the LoRA's initial down weights. "fp16" needs a
  // CUDA device and mixed precision a CPU or CUDA one (a Config error otherwise).
  Finetuner(const std::string& model_path, const FinetuneSettings& settings, std::vector<std::string> class_names,
            std::string metaclass, uint64_t seed, const std::string& device = "cpu");

  // The mean-squared ε-prediction error on `batch` (with autograd recording through the trainable parameters).
  at::Tensor loss(const TrainingBatch& batch);
  // One training step: forward and backward in micro-batches, gradient clipping, one AdamW update (skipped when loss
  // scaling finds an inf or nan gradient). Returns the batch's mean loss.
  double train_step(const TrainingBatch& batch);

  // From now on each train_step averages the gradients over `group` (one process's share of every batch each) and
  // checkpoints record its size. nullptr, or a group of one, trains alone.
  void share_gradients_with(std::shared_ptr<dist::ProcessGroup> group);
  // Copies rank 0's parameters, optimizer state, step counts and loss scale to every process of the group, e.g. after
  // rank 0 alone read a checkpoint.
  void start_like_main();

  // Turns dynamic loss scaling on with `options`, whatever the precision (fp16 turns it on with the defaults), e.g. to
  // use a shorter growth interval. Resets the scale to options.init_scale.
  void use_loss_scaling(LossScalerOptions options);
  // The loss scaler, or nullptr when the gradients are not scaled.
  const LossScaler* loss_scaler() const { return scaler_ ? &*scaler_ : nullptr; }

  // All trainable tensors: the LoRA adapters, then "token_embeddings".
  const NamedTensors& parameters() const { return parameters_; }
  const AdamW& optimizer() const { return *optimizer_; }
  // Training steps taken, skipped updates included (run_finetune's step count).
  int64_t step() const { return step_; }
  // AdamW updates applied (its bias correction's step count): step() minus the skipped updates.
  int64_t optimizer_step() const { return optimizer_->step_count(); }
  // The resolved precision: never Precision::Auto.
  Precision precision() const { return precision_; }
  const std::vector<std::string>& prompts() const { return prompts_; }

  // Checkpoint = parameters + optimizer state + both step counts + the loss scaler's state + the seed and settings that
  // must not change across a resume.
  void save_checkpoint(const std::string& path) const;
  // Restores a checkpoint written by save_checkpoint for the same strategy, rank, classes and number of processes (an
  // error otherwise).
  void load_checkpoint(const std::string& path);

  // Writes the LoRA, the embeddings and the manifest into `folder` (created if needed).
  void save_artifacts(const std::string& folder);

  sd::CLIPTokenizer& tokenizer() { return tokenizer_; }
  sd::CLIPTextModel& text_encoder() { return text_encoder_; }
  sd::UNet2DConditionModel& unet() { return unet_; }
  const sd::AutoencoderKL& vae() const { return vae_; }
  const sd::DDPMScheduler& noise_scheduler() const { return ddpm_; }
  at::Device device() const { return device_; }

 private:
  at::Tensor prompt_embeddings(const std::vector<int64_t>& labels);
  // Clipping and the AdamW update from the accumulated gradients (through the loss scaler when there is one).
  void apply_gradients();
  int processes() const;  // the size of the group sharing gradients, 1 alone

  std::string model_path_;
  FinetuneSettings settings_;
  std::vector<std::string> class_names_;
  std::string metaclass_;
  std::vector<std::string> prompts_;
  uint64_t seed_ = 0;
  at::Device device_;
  Precision precision_;
  at::ScalarType compute_dtype_;  // the autocast dtype; kFloat: no autocast
  sd::CLIPTokenizer tokenizer_;
  sd::CLIPTextModel text_encoder_;
  sd::UNet2DConditionModel unet_;
  sd::AutoencoderKL vae_;
  sd::DDPMScheduler ddpm_;
  BaseModelSignature base_;
  std::optional<UNetLora> lora_;
  std::optional<LearnedTokens> tokens_;
  at::Tensor fixed_prompt_embeddings_;  // [classes, L, D] when the text side does not learn
  NamedTensors parameters_;
  std::optional<AdamW> optimizer_;
  std::optional<LossScaler> scaler_;
  int64_t step_ = 0;
  std::shared_ptr<dist::ProcessGroup> group_;
  std::shared_ptr<dist::GradientReducer> reducer_;  // averages over group_ while the last backward of a step runs
};

struct FinetuneRunOptions {
  bool resume = true;  // continue from <output>/checkpoint.safetensors when it exists
  // Called once this process holds the output folder (another one fine-tuning into it is a Busy error instead).
  std::function<void()> on_start;
  // Called after every optimizer step with the step number (1-based) and its loss; may call dmx::request_cancel().
  std::function<void(int64_t step, double loss)> on_step;
  // Log steps, rate, ETA and loss. A caller that reports progress its own way (a plugin, through the host's
  // progress callback) turns this off so that each step is not reported twice.
  bool log_progress = true;
  // The processes fine-tuning together (see the top of this file); nullptr trains alone.
  std::shared_ptr<dist::ProcessGroup> group;
};

struct FinetuneResult {
  std::string output_dir;
  int64_t steps = 0;          // the step reached (== settings.steps when finished)
  int64_t resumed_from = 0;   // the step the run started at
  double last_loss = 0.0;
  double steps_per_second = 0.0;
};

// The whole run on `dataset`: encodes the images once, trains for config.train.steps steps, checkpoints every
// checkpoint_every steps and on cancellation (then throws dmx::cancelled), writes the artifacts at the end. Every
// random draw of step s comes from a generator seeded by (seed, s), so a resumed run repeats the uninterrupted one,
// and N processes together repeat one process.
FinetuneResult run_finetune(const FinetuneConfig& config, const data::Dataset& dataset,
                            const FinetuneRunOptions& options = {});
// As above on the dataset config.data describes.
FinetuneResult run_finetune(const FinetuneConfig& config, const FinetuneRunOptions& options = {});

}  // namespace dmx::finetune
