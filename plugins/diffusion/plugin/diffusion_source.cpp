#include "diffusion_source.hpp"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "diffmix/cancellation.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sd_finetune/artifacts.hpp"
#include "diffmix/sd_finetune/finetuner.hpp"

namespace dmx::diffusion_plugin {
namespace {

std::string device_name(const at::Device& device) { return device.str(); }

diffusion::SourceSettings read_settings(const plugin::Context& context, const std::string& augmenter,
                                        bool& explicit_gamma) {
  const std::string source = context.name() + " configuration";
  const auto document = config::Document::parse_string(context.config_text(), source);
  const auto root = document.root();
  explicit_gamma = root.has("gamma");
  auto settings = diffusion::read_source_settings(root, augmenter, device_name(context.device()));
  root.finish();
  return settings;
}

}  // namespace

DiffusionSource::DiffusionSource(const plugin::Context& context, const std::string& augmenter)
    : context_(context), augmenter_(augmenter) {
  settings_ = read_settings(context_, augmenter_, store_soft_labels_);
  dataset_ = std::make_shared<ViewDataset>(context_.dataset(), context_.name());
  if (dataset_->num_classes() != context_.num_classes())
    throw invalid_argument(context_.name() + ": the dataset has " + std::to_string(dataset_->num_classes()) +
                           " classes, the run " + std::to_string(context_.num_classes()));
  ensure_plan(stream_count());
  check_strengths_take_a_step();
}

// SDEdit runs int(steps × s) steps; a strength that runs none would fail only when a job draws it.
void DiffusionSource::check_strengths_take_a_step() const {
  const int64_t steps = settings_.pipeline.steps;
  for (const double s : plan_->strengths())
    if (static_cast<int64_t>(static_cast<double>(steps) * s) < 1)
      throw config_error(context_.name() + ": strength " + std::to_string(s) + " with steps = " +
                         std::to_string(steps) + " runs int(steps × strength) = 0 denoising steps; raise `steps` " +
                         "or the strength");
}

uint64_t DiffusionSource::seed() const { return settings_.seed ? *settings_.seed : context_.seed(); }

int64_t DiffusionSource::stream_count() const {
  return settings_.stream_count > 0 ? settings_.stream_count : diffusion::kDefaultMultiplier * dataset_->size();
}

void DiffusionSource::ensure_plan(int64_t count) {
  if (plan_ && plan_->size() >= count) return;
  diffusion::SynthesisPlanOptions options;
  const int64_t n = dataset_->size();
  options.multiplier = std::max<int64_t>(1, (count + n - 1) / n);
  options.strengths = settings_.strengths;
  options.gamma = settings_.gamma;
  options.seed = seed();
  plan_.emplace(settings_.strategy, dataset_->labels(), dataset_->num_classes(), options);
}

// ---- prepare --------------------------------------------------------------------------------------------------

// The fine-tuned folder is used as it is when the source has no [finetune] table (a `diffmix finetune` output).
// With one, the folder must hold the model those settings make: a folder without artifacts is fine-tuned, one with
// fewer steps continues from its checkpoint (each step's batch depends only on the seed and the step, so this equals
// one run of all the steps), and one made with other settings is an error, never silently sampled from.
void DiffusionSource::finetune_unless_done() {
  if (!settings_.strategy.is_finetuned()) return;
  const auto& folder = settings_.pipeline.finetuned;
  const auto manifest_path = (std::filesystem::path(folder) / finetune::kManifestFile).string();
  const bool made = std::filesystem::exists(manifest_path);
  if (made && !settings_.finetune) return;
  if (!settings_.finetune)
    throw not_found(context_.name() + ": no fine-tuned artifacts in '" + folder + "' (" + finetune::kManifestFile +
                    " is missing): run `diffmix finetune` with output = \"" + folder + "\", or add a [finetune] " +
                    "table to the source so that it fine-tunes in prepare");
  finetune::FinetuneConfig config;
  config.source = context_.name() + " [finetune]";
  config.output_dir = folder;
  config.seed = settings_.finetune_seed;
  config.model_path = settings_.pipeline.model;
  config.device = device_name(context_.device());
  config.train = *settings_.finetune;
  if (made) {
    const auto manifest = finetune::FinetuneManifest::read(manifest_path);
    const auto difference = finetune::finetune_difference(manifest, config);
    if (!difference.empty() || manifest.steps > config.train.steps)
      throw invalid_argument(context_.name() + ": " + folder + " holds a model fine-tuned with other settings than " +
                             "[finetune] asks for (" +
                             (difference.empty() ? std::to_string(manifest.steps) + " steps there, " +
                                                       std::to_string(config.train.steps) + " here"
                                                 : difference) +
                             "); delete the folder to fine-tune again, or set `finetuned` to another folder");
    if (manifest.steps == config.train.steps) return;
  }
  run_finetune(config);
}

void DiffusionSource::run_finetune(const finetune::FinetuneConfig& config) {
  const auto& folder = config.output_dir;
  finetune::FinetuneRunOptions options;
  options.log_progress = false;  // the host shows progress from context_.progress
  const auto total = static_cast<uint64_t>(config.train.steps);
  options.on_step = [this, total](int64_t step, double loss) {
    context_.progress("fine-tuning", static_cast<uint64_t>(step), total);
    if (step % 50 == 0) context_.log(DMX_LOG_INFO, "fine-tuning step " + std::to_string(step) + " loss " +
                                                       std::to_string(loss));
    if (context_.cancelled()) request_cancel();  // the fine-tuner checkpoints and stops at its next safe point
  };
  options.on_start = [&] {
    context_.log(DMX_LOG_INFO, "fine-tuning " + finetune::to_string(config.train.strategy) + " for " +
                                   std::to_string(config.train.steps) + " steps into " + folder);
  };
  const auto result = finetune::run_finetune(config, *dataset_, options);
  context_.log(DMX_LOG_INFO, "fine-tuned " + std::to_string(result.steps) + " steps into " + folder +
                                 (result.resumed_from > 0 ? " (from step " + std::to_string(result.resumed_from) + ")"
                                                          : ""));
}

void DiffusionSource::prepare() {
  if (pipeline_) return;
  finetune_unless_done();
  context_.log(DMX_LOG_INFO, "loading " + settings_.pipeline.model +
                                 (settings_.strategy.is_finetuned() ? " with " + settings_.pipeline.finetuned : ""));
  pipeline_.emplace(diffusion::SynthesisPipeline::load(settings_.strategy, settings_.pipeline,
                                                       dataset_->class_names(), dataset_->metaclass()));
}

void DiffusionSource::require_prepared() const {
  if (!pipeline_) throw invalid_argument(context_.name() + ": call prepare() before making samples");
}

// ---- making samples -------------------------------------------------------------------------------------------

std::vector<diffusion::SynthesisJob> DiffusionSource::jobs(int64_t begin, int64_t end) const {
  std::vector<diffusion::SynthesisJob> out;
  for (int64_t k = begin; k < end; ++k) out.push_back(plan_->job(k));
  return out;
}

std::vector<at::Tensor> DiffusionSource::generate(const std::vector<diffusion::SynthesisJob>& jobs) const {
  std::vector<at::Tensor> references;
  if (settings_.strategy.uses_reference_image())
    for (const auto& job : jobs) references.push_back(dataset_->load_image(job.reference_image));
  return pipeline_->generate(jobs, references, [this](const sd::DenoisingStep&) {
    if (context_.cancelled()) throw cancelled(context_.name() + ": interrupted while denoising");
  });
}

data::SyntheticRecord DiffusionSource::record_of(const diffusion::SynthesisJob& job) const {
  return diffusion::to_record(job, store_soft_labels_);
}

plugin::Sample DiffusionSource::sample_of(const diffusion::SynthesisJob& job, at::Tensor image) const {
  plugin::Sample sample;
  sample.image = std::move(image);
  sample.soft_label = job.soft_label;
  sample.source_class = settings_.strategy.uses_reference_image() ? static_cast<int32_t>(job.source_class) : -1;
  sample.target_class = static_cast<int32_t>(job.target_class);
  sample.strength = static_cast<float>(job.strength);
  sample.seed = job.seed;
  return sample;
}

void DiffusionSource::synthesize(const std::string& out_dir, int64_t count) {
  synthesize_part(out_dir, count, 0, count);
}

void DiffusionSource::synthesize_part(const std::string& out_dir, int64_t count, int64_t begin, int64_t end) {
  require_prepared();
  ensure_plan(count);
  data::SyntheticCacheWriter writer(out_dir, ".png", "", begin);
  const int64_t wanted = end - begin;
  const auto next = [&] { return begin + writer.size(); };  // the next sample this part makes
  const int64_t block = settings_.batch_size;
  const std::string task = augmenter_ + " synthesis";
  context_.progress(task.c_str(), static_cast<uint64_t>(std::min(writer.size(), wanted)),
                    static_cast<uint64_t>(wanted));
  for (int64_t first = next() / block * block; first < end && next() < end; first += block) {
    if (context_.cancelled())
      throw cancelled(context_.name() + ": synthesis interrupted with " + std::to_string(writer.size()) + " of " +
                      std::to_string(wanted) + " samples in " + out_dir + "; run it again to resume");
    const auto batch = jobs(first, std::min(first + block, count));
    const auto images = generate(batch);
    for (size_t i = 0; i < batch.size(); ++i)
      if (batch[i].index == next() && batch[i].index < end) writer.add(images[i], record_of(batch[i]));
    context_.progress(task.c_str(), static_cast<uint64_t>(writer.size()), static_cast<uint64_t>(wanted));
  }
}

std::optional<plugin::Sample> DiffusionSource::next() {
  require_prepared();
  if (next_index_ >= stream_count()) return std::nullopt;
  if (!block_.count(next_index_)) {
    block_.clear();
    const int64_t begin = next_index_ / settings_.batch_size * settings_.batch_size;
    const auto batch = jobs(begin, std::min(begin + settings_.batch_size, stream_count()));
    auto images = generate(batch);
    for (size_t i = 0; i < batch.size(); ++i) block_.emplace(batch[i].index, sample_of(batch[i], std::move(images[i])));
  }
  auto node = block_.extract(next_index_++);
  return std::move(node.mapped());
}

void DiffusionSource::seek(int64_t index) {
  next_index_ = index;
  for (auto it = block_.begin(); it != block_.end();)
    it = it->first < index ? block_.erase(it) : std::next(it);
}

}  // namespace dmx::diffusion_plugin
