// Shared by the fine-tuning tests: the tiny SD model, a small in-memory labelled image set, and settings that keep
// each test to seconds.
#pragma once

#include "common/test_env.hpp"
#include "sd/sd_fixtures.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/dataset.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/sd_finetune/finetune_config.hpp"
#include "diffmix/sd_finetune/finetuner.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace dmx::test {

inline std::string tiny_model_dir() { return sd_fixture_dir() + "/model"; }

// Three class names the tiny model's vocabulary spells, for tests that need a class list.
inline const std::vector<std::string> kBirdClasses = {"sparrow", "crow", "owl"};

// <root>/train/<class>/<i>.png: `per_class` random 40×36 images per class, from a fixed seed.
inline void write_image_folder(const std::string& root, const std::vector<std::string>& classes, int per_class = 2) {
  auto generator = at::detail::createCPUGenerator(4);
  for (const auto& name : classes) {
    std::filesystem::create_directories(root + "/train/" + name);
    for (int i = 0; i < per_class; ++i) {
      io::write_image(root + "/train/" + name + "/" + std::to_string(i) + ".png",
                      at::randint(0, 256, {36, 40, 3}, generator, at::kByte));
    }
  }
}

// A fresh, empty folder under the system temp dir.
inline std::string fresh_dir(const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() / ("diffmix-finetune-test-" + name);
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path.string();
}

// `per_class` random RGB images per class (width × height pixels, 40×36 unless told), drawn from a fixed seed.
class RandomImages : public data::Dataset {
 public:
  RandomImages(std::vector<std::string> class_names, int64_t per_class, uint64_t seed = 7, int64_t width = 40,
               int64_t height = 36)
      : class_names_(std::move(class_names)) {
    auto generator = at::detail::createCPUGenerator(seed);
    for (size_t c = 0; c < class_names_.size(); ++c) {
      for (int64_t i = 0; i < per_class; ++i) {
        images_.push_back(at::randint(0, 256, {height, width, 3}, generator, at::kByte));
        labels_.push_back(static_cast<int64_t>(c));
      }
    }
  }
  int64_t size() const override { return static_cast<int64_t>(images_.size()); }
  int64_t label(int64_t index) const override { return labels_.at(static_cast<size_t>(index)); }
  at::Tensor load_image(int64_t index, const data::ImageRequest& = {}) const override {
    return images_.at(static_cast<size_t>(index)).clone();
  }
  const std::vector<std::string>& class_names() const override { return class_names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override { return "random image " + std::to_string(index); }

 private:
  std::vector<std::string> class_names_;
  std::vector<at::Tensor> images_;
  std::vector<int64_t> labels_;
  std::string metaclass_ = "photo";  // a single token of the tiny vocabulary, so it can initialise embeddings
  std::string name_ = "random images";
};

// Small, fast settings on the tiny model: 32 px images (16×16 latents), rank 4, batch 2.
inline finetune::FinetuneSettings tiny_settings(finetune::Strategy strategy = finetune::Strategy::Both) {
  finetune::FinetuneSettings settings;
  settings.strategy = strategy;
  settings.steps = 4;
  settings.batch_size = 2;
  settings.resolution = 32;
  settings.lora_rank = 4;
  settings.initializer_token = "photo";
  settings.checkpoint_every = 100;
  return settings;
}

// `size` examples of random latents (side × side), noise and timesteps; labels cycle through `num_classes`.
inline finetune::TrainingBatch fixed_batch(const finetune::Finetuner& tuner, int64_t size, uint64_t seed,
                                           int64_t side = 16, int64_t num_classes = 3) {
  auto generator = at::detail::createCPUGenerator(seed);
  finetune::TrainingBatch batch;
  batch.latents = at::randn({size, 4, side, side}, generator, at::kFloat) * 0.5;
  batch.noise = at::randn({size, 4, side, side}, generator, at::kFloat);
  batch.timesteps = at::randint(0, tuner.noise_scheduler().num_train_timesteps(), {size}, generator, at::kLong);
  for (int64_t b = 0; b < size; ++b) batch.labels.push_back(b % num_classes);
  return batch;
}

// The loss before and after 100 steps on one fixed example (8×8 latents) with a generous rank and learning rate: the
// adapters and the embeddings can memorise it, so the second number must be far below the first.
inline std::pair<double, double> overfit_one_example(finetune::FinetuneSettings settings,
                                                     const std::vector<std::string>& classes) {
  settings.learning_rate = 1e-2;
  settings.batch_size = 1;
  settings.lora_rank = 16;
  finetune::Finetuner tuner(tiny_model_dir(), settings, classes, "bird", 0);
  const auto batch = fixed_batch(tuner, 1, 5, 8);
  const double first = tuner.train_step(batch);
  double last = first;
  for (int step = 0; step < 100; ++step) last = tuner.train_step(batch);
  return {first, last};
}

// A fine-tuning config read from TOML text, every key checked as `diffmix finetune` checks them.
inline finetune::FinetuneConfig parse_finetune_config(const std::string& text) {
  const auto document = config::Document::parse_string(text, "finetune.toml");
  const auto root = document.root();
  auto config = finetune::read_finetune_config(root);
  root.finish();
  return config;
}

}  // namespace dmx::test
