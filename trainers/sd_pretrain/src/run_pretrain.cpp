// The pretraining loop: the two phases, their data draws, checkpoints, cancellation and the model folder.
#include "diffmix/sd_pretrain/pretrainer.hpp"

#include "diffmix/cancellation.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include <spdlog/spdlog.h>
#include "diffmix/progress.hpp"
#include "diffmix/sd_pretrain/latent_cache.hpp"
#include "diffmix/sd_pretrain/training_images.hpp"
#include "keyed_generator.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

namespace dmx::pretrain {
namespace {

constexpr const char* kCheckpointFile = "checkpoint.safetensors";
// Images per forward pass when encoding the training set: the training batch size, whose activations (a few MB)
// glibc keeps reusing; much larger ones are mapped and unmapped anew at every pass, which costs more than the math.
constexpr int64_t kEncodeBatch = 64;

// Every draw of VAE step `step`: which images, and the posterior sample's noise.
VaeBatch draw_vae_batch(const TrainingImages& images, const Architecture& arch, int64_t batch_size, uint64_t seed,
                        int64_t step) {
  auto generator = keyed_generator(seed, RandomPurpose::VaeStep, static_cast<uint64_t>(step));
  const auto indices = at::randint(0, images.size(), {batch_size}, generator, at::kLong);
  VaeBatch batch;
  batch.images = images.batch(indices);
  batch.posterior_noise =
      at::randn({batch_size, arch.vae.latent_channels, arch.latent_size(), arch.latent_size()}, generator, at::kFloat);
  return batch;
}

// Every draw of UNet step `step`: images, posterior samples, DDPM noise, timesteps, which captions are empty.
UNetBatch draw_unet_batch(const LatentCache& latents, double scaling_factor, const PretrainSettings& settings,
                          int64_t num_train_timesteps, uint64_t seed, int64_t step) {
  auto generator = keyed_generator(seed, RandomPurpose::UNetStep, static_cast<uint64_t>(step));
  const auto b = settings.batch_size;
  std::vector<int64_t> shape{b};
  for (const auto d : latents.latent_shape()) shape.push_back(d);
  const auto indices = at::randint(0, latents.size(), {b}, generator, at::kLong);
  const auto posterior_noise = at::randn(shape, generator, at::kFloat);
  UNetBatch batch;
  batch.latents = latents.sample(indices, posterior_noise) * scaling_factor;
  batch.noise = at::randn(shape, generator, at::kFloat);
  batch.timesteps = at::randint(0, num_train_timesteps, {b}, generator, at::kLong);
  batch.empty_caption = at::rand({b}, generator, at::kDouble).lt(settings.caption_dropout);
  return batch;
}

// Every draw of decoder step `step`: which images, and their posterior samples' noise.
DecoderBatch draw_decoder_batch(const TrainingImages& images, const LatentCache& latents, int64_t batch_size,
                                uint64_t seed, int64_t step) {
  auto generator = keyed_generator(seed, RandomPurpose::DecoderStep, static_cast<uint64_t>(step));
  std::vector<int64_t> shape{batch_size};
  for (const auto d : latents.latent_shape()) shape.push_back(d);
  const auto indices = at::randint(0, images.size(), {batch_size}, generator, at::kLong);
  DecoderBatch batch;
  batch.images = images.batch(indices);
  batch.latents = latents.sample(indices, at::randn(shape, generator, at::kFloat));
  return batch;
}

std::string loss_note(double loss) {
  char text[64];
  std::snprintf(text, sizeof text, "loss %.4f", loss);
  return text;
}

// Runs the current phase up to `steps`: checkpoints every checkpoint_every steps and on cancellation.
template <typename Step>
PhaseResult run_phase(Pretrainer& trainer, int64_t steps, const PretrainConfig& config, const std::string& checkpoint,
                      int64_t image_count, const PretrainRunOptions& options, Step take_step) {
  PhaseResult result;
  const auto phase = trainer.phase();
  const auto first = trainer.step();
  Progress progress("pretrain " + to_string(phase), static_cast<uint64_t>(steps), "step");
  progress.set(static_cast<uint64_t>(first));
  const auto start = std::chrono::steady_clock::now();
  while (trainer.step() < steps) {
    if (cancel_requested()) {
      trainer.save_checkpoint(checkpoint, image_count);
      throw dmx::cancelled("pretraining interrupted at " + to_string(phase) + " step " +
                           std::to_string(trainer.step()) + "; checkpoint " + checkpoint + " (run again to resume)");
    }
    result.last_loss = take_step(trainer.step());
    progress.advance(1, loss_note(result.last_loss));
    if (trainer.step() % config.train.checkpoint_every == 0) trainer.save_checkpoint(checkpoint, image_count);
    if (options.on_step) options.on_step(phase, trainer.step(), result.last_loss);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (trainer.step() > first) {
    result.seconds_per_step = seconds / static_cast<double>(trainer.step() - first);
    progress.finish(loss_note(result.last_loss));
  }
  result.steps = trainer.step();
  return result;
}

}  // namespace

PretrainResult run_pretrain(const PretrainConfig& config, const data::Dataset& dataset,
                            const PretrainRunOptions& options) {
  const auto& settings = config.train;
  const auto metaclass = config.data.metaclass.empty() ? dataset.metaclass() : config.data.metaclass;
  Pretrainer trainer(config, dataset.class_names(), pretraining_caption(metaclass));
  const auto checkpoint = (std::filesystem::path(config.work_dir) / kCheckpointFile).string();
  const auto image_count = dataset.size();
  if (options.resume && std::filesystem::exists(checkpoint)) trainer.load_checkpoint(checkpoint, image_count);

  PretrainResult result;
  result.output_dir = config.output_dir;
  result.text_encoder_parameters = parameter_count(trainer.weights().text_encoder);
  result.vae_parameters = parameter_count(trainer.weights().vae);
  result.unet_parameters = parameter_count(trainer.weights().unet);
  spdlog::info("pretraining on {} ({} images): text encoder {} parameters, VAE {}, UNet {}", dataset.name(), image_count,
            result.text_encoder_parameters, result.vae_parameters, result.unet_parameters);

  std::optional<TrainingImages> images;
  if (trainer.phase() != Phase::Done) images = TrainingImages::load(dataset, config.architecture.resolution);
  if (trainer.phase() == Phase::Vae) {
    result.vae = run_phase(trainer, settings.vae.steps, config, checkpoint, image_count, options, [&](int64_t step) {
      return trainer.vae_step(draw_vae_batch(*images, config.architecture, settings.batch_size, config.seed, step));
    });
  } else {
    result.vae.steps = settings.vae.steps;
  }
  if (trainer.phase() != Phase::Done) {
    // The VAE is final from here on: its latents are encoded once, for the scaling factor and the UNet's data.
    const auto latents = LatentCache::encode(trainer.vae(), *images, kEncodeBatch);
    if (trainer.phase() == Phase::Vae) {
      trainer.start_unet_phase(latents.scaling_factor(keyed_generator(config.seed, RandomPurpose::Scaling)));
      trainer.save_checkpoint(checkpoint, image_count);
      spdlog::info("VAE trained; latent scaling_factor {:.5f}", trainer.scaling_factor());
    }
    if (trainer.phase() == Phase::UNet) {
      const auto timesteps = trainer.noise_scheduler().num_train_timesteps();
      result.unet = run_phase(trainer, settings.unet.steps, config, checkpoint, image_count, options, [&](int64_t step) {
        return trainer.unet_step(
            draw_unet_batch(latents, trainer.scaling_factor(), settings, timesteps, config.seed, step));
      });
      if (settings.vae_decoder.steps > 0) {
        trainer.start_decoder_phase();
        trainer.save_checkpoint(checkpoint, image_count);
      }
    } else {
      result.unet.steps = settings.unet.steps;
    }
    if (trainer.phase() == Phase::VaeDecoder) {
      result.vae_decoder =
          run_phase(trainer, settings.vae_decoder.steps, config, checkpoint, image_count, options, [&](int64_t step) {
            return trainer.decoder_step(
                draw_decoder_batch(*images, latents, settings.batch_size, config.seed, step));
          });
    }
    trainer.finish();
    trainer.save_checkpoint(checkpoint, image_count);
  } else {
    result.unet.steps = settings.unet.steps;
    result.vae_decoder.steps = settings.vae_decoder.steps;
  }
  trainer.write_model(config.output_dir);
  result.scaling_factor = trainer.scaling_factor();
  return result;
}

PretrainResult run_pretrain(const PretrainConfig& config, const PretrainRunOptions& options) {
  const auto dataset = data::open_dataset(config.data);
  return run_pretrain(config, *dataset, options);
}

}  // namespace dmx::pretrain
