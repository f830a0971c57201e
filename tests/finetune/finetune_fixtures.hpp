// Shared by the fine-tuning tests: the tiny SD model, a small in-memory labelled image set, and settings that keep
// each test to seconds.
#pragma once

#include "common/test_env.hpp"
#include "sd/sd_fixtures.hpp"
#include "diffmix/data/dataset.hpp"
#include "diffmix/sd_finetune/finetune_config.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <string>
#include <vector>

namespace dmx::test {

inline std::string tiny_model_dir() { return sd_fixture_dir() + "/model"; }

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

}  // namespace dmx::test
