// The fine-tuning loop: data draws, checkpoints, cancellation, artifacts.
#include "diffmix/sd_finetune/finetuner.hpp"

#include "diffmix/cancellation.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/sample_rng.hpp"
#include "diffmix/distributed.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/file_lock.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/progress.hpp"
#include "diffmix/sd_finetune/latent_dataset.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

namespace dmx::finetune {
namespace {

constexpr const char* kCheckpointFile = "checkpoint.safetensors";

// Per-image sampling weights: uniform, or ∝ 1 / (images in the class) so that every class is drawn equally often.
at::Tensor sampling_weights(const std::vector<int64_t>& labels, ClassSampling sampling) {
  std::vector<double> weights(labels.size(), 1.0);
  if (sampling == ClassSampling::Balanced) {
    std::map<int64_t, int64_t> counts;
    for (const auto label : labels) ++counts[label];
    for (size_t i = 0; i < labels.size(); ++i) weights[i] = 1.0 / static_cast<double>(counts[labels[i]]);
  }
  return at::tensor(weights, at::kDouble);
}

// Every draw of step `step` (images, flips, crops, noise, timesteps), from a generator keyed by (seed, step): the
// batch does not depend on what ran before. `share` keeps a contiguous part of it, one process's share.
TrainingBatch draw_batch(const LatentDataset& latents, const at::Tensor& weights, int64_t batch_size,
                         int64_t num_train_timesteps, uint64_t seed, int64_t step, dist::Share share,
                         at::Device device) {
  const auto key = data::SampleRng::mix(data::SampleRng::mix(seed ^ 0x5d1f7e3a9c2b4f61ULL) ^ static_cast<uint64_t>(step));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(key);
  LatentDraw draw;
  draw.indices = at::multinomial(weights, batch_size, /*replacement=*/true, generator);
  draw.flips = at::randint(0, 2, {batch_size}, generator, at::kLong);
  draw.crop_draws = at::rand({batch_size, 2}, generator, at::kDouble);
  std::vector<int64_t> shape{batch_size};
  for (const auto d : latents.latent_shape()) shape.push_back(d);
  draw.noise = at::randn(shape, generator, at::kFloat);
  const auto noise = at::randn(shape, generator, at::kFloat);
  const auto timesteps = at::randint(0, num_train_timesteps, {batch_size}, generator, at::kLong);

  const auto mine = [&](const at::Tensor& all) { return all.slice(0, share.begin, share.end).contiguous(); };
  draw = {mine(draw.indices), mine(draw.flips), mine(draw.crop_draws), mine(draw.noise)};
  TrainingBatch batch;
  batch.latents = latents.sample(draw, device);
  batch.noise = mine(noise);
  batch.timesteps = mine(timesteps);
  batch.whole_size = batch_size;
  const auto* index = draw.indices.data_ptr<int64_t>();
  for (int64_t b = 0; b < draw.indices.size(0); ++b)
    batch.labels.push_back(latents.labels()[static_cast<size_t>(index[b])]);
  return batch;
}

// The mean loss of the whole batch and whether any process was asked to stop, agreed by all of them so that they
// stop after the same step. Alone: the loss and this process's own stop request.
std::pair<double, bool> agree_on_step(dist::ProcessGroup* group, double loss, at::Device device, int64_t step) {
  const bool stop = cancel_requested();
  if (!group || group->size() == 1) return {loss, stop};
  std::vector<at::Tensor> values{at::tensor({loss / group->size(), stop ? 1.0 : 0.0}, at::kDouble).to(device)};
  group->all_reduce_sum(values, "the loss of step " + std::to_string(step));
  const at::Tensor agreed = values.front().cpu();
  return {agreed[0].item<double>(), agreed[1].item<double>() > 0};
}

std::string loss_note(double loss) {
  char text[64];
  std::snprintf(text, sizeof text, "loss %.4f", loss);
  return text;
}

}  // namespace

FinetuneResult run_finetune(const FinetuneConfig& config, const data::Dataset& dataset,
                            const FinetuneRunOptions& options) {
  const auto& settings = config.train;
  dist::ProcessGroup* group = options.group.get();
  const bool main = !group || group->is_main();
  const int rank = group ? group->rank() : 0;
  const int processes = group ? group->size() : 1;
  if (settings.batch_size < processes)
    throw dmx::config_error("[finetune] batch_size " + std::to_string(settings.batch_size) + " is smaller than the " +
                            std::to_string(processes) + " processes sharing every batch");
  // Rank 0 alone writes the output folder. Two runs of one comparison may need the same fine-tuned model: the first
  // fine-tunes, the other is told to wait.
  std::optional<io::FileLock> lock;
  if (main) {
    lock = io::FileLock::try_acquire((std::filesystem::path(config.output_dir) / kLockFile).string());
    if (!lock)
      throw dmx::busy(config.output_dir + ": another process is fine-tuning into this folder (it holds " + kLockFile +
                      "); run again when it is done");
    io::remove_abandoned_temporaries(config.output_dir);
  }
  if (options.on_start) options.on_start();
  Finetuner tuner(config.model_path, settings, dataset.class_names(), dataset.metaclass(), config.seed, config.device);
  tuner.share_gradients_with(options.group);
  const auto checkpoint = (std::filesystem::path(config.output_dir) / kCheckpointFile).string();
  if (main && options.resume && std::filesystem::exists(checkpoint)) tuner.load_checkpoint(checkpoint);
  tuner.start_like_main();

  FinetuneResult result;
  result.output_dir = config.output_dir;
  result.resumed_from = tuner.step();
  if (tuner.step() < settings.steps) {
    const auto latents = LatentDataset::encode(dataset, tuner.vae(), settings.resolution);
    const auto weights = sampling_weights(latents.labels(), settings.class_sampling);
    const auto share = dist::share_of(settings.batch_size, rank, processes);
    if (processes > 1)
      spdlog::info("data parallel: {} processes, {} to {} examples of every batch of {} each", processes,
                   settings.batch_size / processes, (settings.batch_size + processes - 1) / processes,
                   settings.batch_size);
    std::optional<Progress> progress;
    if (options.log_progress) {
      progress.emplace("finetune " + to_string(settings.strategy), static_cast<uint64_t>(settings.steps), "step");
      progress->set(static_cast<uint64_t>(tuner.step()));
    }
    const auto save_checkpoint = [&] {
      if (main) tuner.save_checkpoint(checkpoint);
    };
    // Alone, a request that came before the first step stops before it; together, the request travels with the
    // next step's loss.
    bool stop = processes == 1 && cancel_requested();
    const auto start = std::chrono::steady_clock::now();
    while (tuner.step() < settings.steps) {
      if (stop) {
        save_checkpoint();
        throw dmx::cancelled("fine-tuning interrupted at step " + std::to_string(tuner.step()) + "; checkpoint " +
                             checkpoint + " (run again to resume)");
      }
      const auto batch = draw_batch(latents, weights, settings.batch_size, tuner.noise_scheduler().num_train_timesteps(),
                                    config.seed, tuner.step(), share, tuner.device());
      std::tie(result.last_loss, stop) = agree_on_step(group, tuner.train_step(batch), tuner.device(), tuner.step());
      if (progress) progress->advance(1, loss_note(result.last_loss));
      if (tuner.step() % settings.checkpoint_every == 0) save_checkpoint();
      if (options.on_step) options.on_step(tuner.step(), result.last_loss);
      stop = stop || (processes == 1 && cancel_requested());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.steps_per_second = seconds > 0 ? static_cast<double>(tuner.step() - result.resumed_from) / seconds : 0.0;
    if (progress) progress->finish(loss_note(result.last_loss));
    save_checkpoint();
  }
  if (main) tuner.save_artifacts(config.output_dir);
  result.steps = tuner.step();
  return result;
}

FinetuneResult run_finetune(const FinetuneConfig& config, const FinetuneRunOptions& options) {
  const auto dataset = data::open_dataset(config.data);
  return run_finetune(config, *dataset, options);
}

}  // namespace dmx::finetune
