#include "diffmix/classifier/oracle.hpp"

#include <nlohmann/json.hpp>

#include <ATen/ATen.h>
#include <torch/types.h>

#include <filesystem>
#include <map>

#include "diffmix/classifier/classifier.hpp"
#include "diffmix/classifier/trainer.hpp"
#include "diffmix/classifier/weights.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/sample_rng.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/progress.hpp"

namespace dmx::classifier {
namespace {

constexpr int64_t kBatch = 256;

// The trained oracle, in evaluation mode on its device.
std::shared_ptr<Classifier> load_oracle(const TrainConfig& config, int64_t num_classes, int64_t image_size,
                                        const at::Device& device) {
  const std::string path = config.output_dir + "/model.safetensors";
  if (!std::filesystem::exists(path))
    throw not_found(path + " does not exist: train the oracle first with `diffmix train " + config.source + "`");
  auto model = make_classifier({config.architecture, num_classes, 3, image_size});
  load_weights(*model, path);
  model->to(device);
  model->eval();
  return model;
}

// Running sums of one strength.
struct Tally {
  int64_t samples = 0;
  double target_probability = 0, source_probability = 0;
  int64_t target_top1 = 0;
};

// Per target class: how often each class came out on top.
using Confusion = std::map<int64_t, std::map<int64_t, int64_t>>;

void add_batch(const at::Tensor& probabilities, const std::vector<int64_t>& indices, const data::SyntheticCache& cache,
               std::map<double, Tally>& tallies, Confusion& confusion) {
  const at::Tensor top = probabilities.argmax(1);
  for (size_t i = 0; i < indices.size(); ++i) {
    const auto& record = cache.record(indices[i]);
    Tally& tally = tallies[record.strength];
    const auto row = static_cast<int64_t>(i);
    const int64_t predicted = top[row].item<int64_t>();
    confusion[record.target_class][predicted] += 1;
    tally.samples += 1;
    tally.target_probability += probabilities[row][record.target_class].item<double>();
    tally.source_probability += probabilities[row][record.source_class].item<double>();
    tally.target_top1 += predicted == record.target_class ? 1 : 0;
  }
}

std::vector<OracleClass> summarise_classes(const Confusion& confusion, const std::vector<std::string>& class_names) {
  std::vector<OracleClass> rows;
  for (const auto& [target, predicted] : confusion) {
    OracleClass row;
    row.name = class_names.at(static_cast<size_t>(target));
    int64_t other_count = 0;
    for (const auto& [label, count] : predicted) {
      row.samples += count;
      if (label == target) {
        row.target_top1 = static_cast<double>(count);
      } else if (count > other_count) {
        other_count = count;
        row.mistaken_for = class_names.at(static_cast<size_t>(label));
      }
    }
    const auto n = static_cast<double>(row.samples);
    row.target_top1 /= n;
    row.mistaken_share = static_cast<double>(other_count) / n;
    rows.push_back(row);
  }
  return rows;
}

OracleReport summarise(const std::string& folder, const std::map<double, Tally>& tallies) {
  OracleReport report;
  report.cache = folder;
  int64_t top1 = 0;
  double probability = 0;
  for (const auto& [strength, tally] : tallies) {
    const auto n = static_cast<double>(tally.samples);
    report.by_strength.push_back({strength, tally.samples, tally.target_probability / n, tally.source_probability / n,
                                  static_cast<double>(tally.target_top1) / n});
    report.samples += tally.samples;
    top1 += tally.target_top1;
    probability += tally.target_probability;
  }
  if (report.samples > 0) {
    report.target_top1 = static_cast<double>(top1) / static_cast<double>(report.samples);
    report.target_probability = probability / static_cast<double>(report.samples);
  }
  return report;
}

}  // namespace

OracleReport judge_synthetic_cache(const TrainConfig& config, const std::string& cache_folder) {
  const data::DatasetPtr train_set = data::open_dataset(config.data.train);
  const auto cache = data::SyntheticCache::open_any(cache_folder, train_set->class_names());
  if (cache->size() == 0) throw invalid_argument(cache_folder + ": the synthetic cache holds no samples");
  const int64_t image_size = input_image_size(config, *train_set);
  const at::Device device = run_device(config);
  const auto model = load_oracle(config, train_set->num_classes(), image_size, device);
  // Text-to-image samples are made at the diffusion model's resolution, not the real images' size: every sample is
  // resized to the classifier's input first (a no-op for samples of that size), then centre-cropped as test images.
  DataSettings resized = config.data;
  resized.image_size = image_size;
  const data::Transforms transforms = test_transforms(resized, image_size);

  std::map<double, Tally> tallies;
  Confusion confusion;
  Progress progress("oracle " + cache_folder, static_cast<uint64_t>(cache->size()), "sample");
  at::NoGradGuard no_grad;
  for (int64_t begin = 0; begin < cache->size(); begin += kBatch) {
    std::vector<at::Tensor> images;
    std::vector<int64_t> indices;
    for (int64_t k = begin; k < std::min(begin + kBatch, cache->size()); ++k) {
      data::SampleRng rng(0, data::RandomStream::Transform, 0, static_cast<uint64_t>(k));  // no random step is used
      images.push_back(transforms.apply(cache->load_image(k), rng));
      indices.push_back(k);
    }
    const at::Tensor logits = model->forward(at::stack(images).to(device));
    add_batch(logits.softmax(1).to(at::kCPU, at::kDouble), indices, *cache, tallies, confusion);
    progress.advance(indices.size());
  }
  progress.finish();
  auto report = summarise(cache_folder, tallies);
  report.by_class = summarise_classes(confusion, train_set->class_names());
  return report;
}

void write_oracle_report(const std::string& path, const std::vector<OracleReport>& reports) {
  nlohmann::json json = nlohmann::json::array();
  for (const auto& report : reports) {
    nlohmann::json strengths = nlohmann::json::array();
    for (const auto& row : report.by_strength)
      strengths.push_back({{"strength", row.strength},
                           {"samples", row.samples},
                           {"target_probability", row.target_probability},
                           {"source_probability", row.source_probability},
                           {"target_top1", row.target_top1}});
    nlohmann::json classes = nlohmann::json::array();
    for (const auto& row : report.by_class)
      classes.push_back({{"class", row.name},
                         {"samples", row.samples},
                         {"target_top1", row.target_top1},
                         {"mistaken_for", row.mistaken_for},
                         {"mistaken_share", row.mistaken_share}});
    json.push_back({{"cache", report.cache},
                    {"samples", report.samples},
                    {"target_top1", report.target_top1},
                    {"target_probability", report.target_probability},
                    {"by_strength", strengths},
                    {"by_class", classes}});
  }
  const std::string text = json.dump(2) + "\n";
  io::write_file_atomic(path, text.data(), text.size());
}

}  // namespace dmx::classifier
