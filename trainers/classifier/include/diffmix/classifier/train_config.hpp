// The settings of one classifier training run, read from a config file:
//
//   seed = 0
//   output = "runs/fmnist"            # metrics.jsonl, checkpoint.safetensors, model.safetensors, result.json
//   [data]      kind, root, shots, imbalance, seed, train_split, test_split, test_kind, test_root (another dataset
//               with the same classes to test on, e.g. Waterbirds for CUB), test_per_class, resize, image_size,
//               crop_padding, flip, mean, std, workers, skip_bad_entries
//   [synthetic] cache, probability, mode ("uniform" | "balanced" | "inverse"), gamma, soft_scaler, filtered (optional:
//               Diff-Mix samples; filtered = true reads the CLIP filter's manifest.filtered.jsonl)
//               source = { augmenter = "diff_mix", ... } streams samples from a sample source while training runs
//               into `cache` (see docs/streaming.md), with synchronous, queue, count or multiplier, per_epoch
//   [backbone]  architecture ("small_cnn" | "resnet18" | "resnet50" | "vit_tiny16" | "vit_b16"), weights
//               (safetensors with torchvision's names for the CNNs, timm's for the ViTs; the head is not loaded)
//   [train]     epochs, batch_size, lr, momentum, weight_decay, warmup_epochs, final_lr, label_smoothing (PyTorch's
//               meaning: 0.1 = the paper's confidence 0.9), device ("cpu" | "cuda[:N]"), threads, eval_every
//   [[augment]] augmenter = "cutmix", alpha, prob ...  (batch augmenters, applied in order)
//   [plugins]   path = [...]
//
// Defaults follow docs/method.md where the paper fixes a value (momentum 0.9, weight decay 5e-5, label smoothing 0.1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diffmix/config.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/mixer.hpp"

namespace dmx::classifier {

struct DataSettings {
  data::DatasetSpec train;        // split "train"
  data::DatasetSpec test;         // split "test"; shots = test_per_class
  int64_t resize = 0;             // > 0: every image is first resized to resize × resize (the paper's 512 → crop 448)
  int64_t image_size = 0;         // the crop the network sees; 0: as stored (a dataset of mixed sizes needs a size)
  int64_t crop_padding = 4;       // RandomCrop's zero padding
  double flip = 0.5;              // horizontal-flip probability
  std::vector<float> mean{0.485f, 0.456f, 0.406f};
  std::vector<float> stddev{0.229f, 0.224f, 0.225f};
  int workers = 1;
};

// [synthetic] source = {...}: a sample source that makes samples while training runs (docs/streaming.md).
struct StreamSettings {
  config::Table source;      // the plugin's own table, checked against its schema when the source is created
  std::string augmenter;
  bool synchronous = false;  // reproducible: epoch e uses exactly the first min(total, e·per_epoch) samples
  int64_t queue = 16;        // samples made but not yet persisted, at most
  std::optional<int64_t> count;     // the most samples the stream makes; else multiplier × |train|
  double multiplier = 5.0;
  int64_t per_epoch = 0;     // synchronous; 0: ceil(total / (epochs − 1)), so the last epoch sees them all
};

struct SyntheticSettings {
  std::string cache;              // empty: real data only
  double probability = -1;        // < 0: the paper's value for the shot count
  data::MixMode mode = data::MixMode::Uniform;
  double gamma = 0.5;
  double soft_scaler = 1.0;       // synthetic labels are scaled to sum to this (the authors' code: 0.9 for FGVC sets)
  bool filtered = false;  // read the CLIP filter's manifest.filtered.jsonl instead of manifest.jsonl
  std::optional<StreamSettings> stream;  // set: `cache` is where the streamed samples persist
};

struct OptimSettings {
  int64_t epochs = 10;
  int64_t batch_size = 64;
  double lr = 0.02;
  double momentum = 0.9;
  double weight_decay = 5e-5;
  double warmup_epochs = 0.0;
  double final_lr = 0.0;
  double label_smoothing = 0.1;   // ε, as PyTorch: labels become (1 − ε)·y + ε/K (the paper's confidence 0.9)
  int64_t eval_every = 1;         // evaluate every n epochs (and always after the last)
};

struct TrainConfig {
  std::string source;             // the config file, for messages
  uint64_t seed = 0;
  std::string output_dir = "runs/train";
  std::string device = "cpu";
  int threads = 0;                // 0: LibTorch's default
  std::string architecture = "small_cnn";
  std::string weights;            // pretrained backbone (head skipped)
  DataSettings data;
  SyntheticSettings synthetic;
  OptimSettings optim;
  std::vector<config::Table> augment;  // [[augment]] tables, checked by each plugin's schema (see augmenter_tables)
  std::vector<std::string> plugin_paths;
};

// The array of tables `key` of `parent` ([[augment]], a set-up's `augment = [...]`) as tables that are not children of
// `parent`: each plugin checks its own table against its schema when the chain is built, so parent.finish() can
// reject typos elsewhere before any plugin is loaded. The tables point into the config::Document, which must outlive
// them.
std::vector<config::Table> augmenter_tables(const config::Table& parent, const std::string& key);

// Reads a [data] table into `data` (absent keys take their defaults).
void read_data_settings(const config::Table& table, DataSettings& data);

// Reads a [synthetic] table (a cache, or a streamed source and the cache it persists into) into `synthetic`.
void read_synthetic_settings(const config::Table& table, SyntheticSettings& synthetic);

// Reads every section above from `root`. Does not call finish(): a caller that reads more sections (compare) does
// that once at the end. Errors carry file:line:column.
TrainConfig read_train_config(const config::Table& root);

}  // namespace dmx::classifier
