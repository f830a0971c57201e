// train_classifier(): one supervised run — data, model, SGD with a warm-up + cosine schedule, label smoothing,
// batch augmenters, evaluation, metrics and checkpoints.
//
//   auto document = dmx::config::Document::parse_file("configs/quickstart.toml");
//   auto config = dmx::classifier::read_train_config(document.root());
//   document.root().finish();
//   dmx::PluginRegistry registry({config.plugin_paths});
//   auto result = dmx::classifier::train_classifier(config, registry);
//
// Files written into config.output_dir:
//   metrics.jsonl           one JSON object per epoch: loss, lr, images/s, and (when evaluated) top-1 and per class
//   checkpoint.safetensors  after every epoch and on interruption; a later run with the same settings resumes from it
//   model.safetensors       the final weights, torchvision names (loadable as backbone.weights)
//   result.json             the final evaluation
//
// Interruption: when dmx::request_cancel() is called (SIGINT in the CLI), the run finishes its current step, writes a
// checkpoint and throws dmx::cancelled; running again continues exactly where it stopped.
//
// Data parallel (RunOptions::group): every process of the group runs train_classifier with the same config. Each
// loads its share of every batch, gradients are averaged, and the weights stay equal on every rank; rank 0 alone
// writes into output_dir. BatchNorm normalises each share by its own statistics (as DistributedDataParallel without
// SyncBatchNorm) and rank 0's running statistics are copied to the others before every step. A checkpoint is only
// continued by the same number of processes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diffmix/classifier/train_config.hpp"
#include "diffmix/data/dataset.hpp"
#include "diffmix/data/shot_groups.hpp"
#include "diffmix/data/transforms.hpp"

#include <c10/core/Device.h>

namespace dmx {
class PluginRegistry;
class SampleSource;
}
namespace dmx::dist {
class ProcessGroup;
}

namespace dmx::classifier {

// The device a run trains on ([train] device), checked: a Config error for a bad name, Unsupported without CUDA.
at::Device run_device(const TrainConfig& config);
// The side of the images the network sees: [data] image_size, or the stored size of the training set's first image.
int64_t input_image_size(const TrainConfig& config, const data::Dataset& train_set);
// The evaluation transforms: Resize((resize, resize)), or Resize(size) when only [data] image_size is set →
// CenterCrop(size) → normalize.
data::Transforms test_transforms(const DataSettings& data, int64_t size);
// The streamed sample source of a run with [synthetic] source, created (its keys checked by the plugin's schema) but
// not prepared: no model is loaded yet. A source that cannot stream is an Unsupported error naming it.
std::shared_ptr<SampleSource> create_stream_source(const TrainConfig& config, const data::DatasetPtr& real,
                                                   PluginRegistry& registry);

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  int64_t step = 0;   // optimizer steps after this epoch
  double lr = 0;      // at the epoch's last step
  double train_loss = 0;
  double images_per_second = 0;
  double seconds = 0;
  bool evaluated = false;
  double top1 = 0;             // fractions in [0, 1]
  double mean_per_class = 0;
  std::vector<double> per_class;
};

// A test set scored by group too (Waterbirds: bird × place): one group's share of correct predictions.
struct TestGroupAccuracy {
  std::string name;
  int64_t images = 0;
  double accuracy = 0;  // NaN when the group has no image
};

// The group with the lowest accuracy (what robustness studies report beside the overall top-1); NaN when none.
double worst_group_accuracy(const std::vector<TestGroupAccuracy>& groups);

struct TrainResult {
  std::string output_dir;
  double top1 = 0;
  double mean_per_class = 0;
  std::vector<double> per_class;
  std::vector<std::string> class_names;
  std::vector<EpochMetrics> history;  // every epoch of the run, including those done before a resume
  int64_t train_size = 0;
  int64_t test_size = 0;
  // Long-tail runs ([data] imbalance > 1): Many / Medium / Few mean per-class accuracy, with the thresholds of
  // data::paper_shot_thresholds for the dataset kind; empty otherwise.
  std::vector<data::ShotGroupAccuracy> shot_groups;
  // Test sets with groups (data::evaluation_groups), after the last epoch; empty otherwise.
  std::vector<TestGroupAccuracy> test_groups;
};

// The evaluated epoch with the highest test top-1 (the earliest on a tie); nullptr when none was evaluated. The
// authors' code reports this number, evaluating every 4th epoch; diffmix reports it beside the last epoch's.
const EpochMetrics* best_evaluated_epoch(const std::vector<EpochMetrics>& history);

struct StepInfo {
  int64_t epoch = 0;  // 0-based
  int64_t batch = 0;
  int64_t step = 0;   // optimizer steps taken, this one included
  int64_t total_steps = 0;
  double loss = 0;
  double lr = 0;
};

struct RunOptions {
  bool resume = true;                            // continue from output_dir/checkpoint.safetensors when present
  std::function<void(const StepInfo&)> on_step;  // after every optimizer step
  // Train data-parallel with the other processes of this group (null: alone). On ranks other than 0 the result of a
  // run that had finished earlier holds only output_dir.
  std::shared_ptr<dist::ProcessGroup> group;
};

TrainResult train_classifier(const TrainConfig& config, PluginRegistry& registry, const RunOptions& options = {});

// The result of a run that finished with exactly these settings (config.output_dir/result.json and metrics.jsonl),
// read without opening any data or model; std::nullopt when it has not finished, or finished with other settings.
std::optional<TrainResult> read_finished_run(const TrainConfig& config);

}  // namespace dmx::classifier
