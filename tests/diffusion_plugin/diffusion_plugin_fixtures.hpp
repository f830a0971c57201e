// Shared by the diffusion plugin tests: the tiny Stable Diffusion fixture, and a labelled image set with one image of
// its own size per class, so a sample's source class says which reference image it was made from.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../common/test_env.hpp"
#include "../sd/sd_fixtures.hpp"
#include "diffmix/data/dataset.hpp"

namespace dmx::test {

inline std::string tiny_model_dir() { return sd_fixture_dir() + "/model"; }

// An empty folder "diffmix-diffusion-plugin-<prefix>-<name>" under the system temp dir.
inline std::string fresh_plugin_test_dir(const std::string& prefix, const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() / ("diffmix-diffusion-plugin-" + prefix + "-" + name);
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path.string();
}

// Class c has exactly image c, random RGB of a size no other class has (none of them square).
class OneImagePerClass : public data::Dataset {
 public:
  explicit OneImagePerClass(int64_t classes = 3) {
    const std::vector<std::string> names = {"heron", "kestrel", "wren", "robin"};
    auto generator = at::detail::createCPUGenerator(21);
    for (int64_t c = 0; c < classes; ++c) {
      names_.push_back(names.at(static_cast<size_t>(c)));
      images_.push_back(at::randint(0, 256, {12 + 3 * c, 10 + 5 * c, 3}, generator, at::kByte));
    }
  }
  int64_t size() const override { return static_cast<int64_t>(images_.size()); }
  int64_t label(int64_t index) const override { return index; }
  at::Tensor load_image(int64_t index, const data::ImageRequest& = {}) const override {
    check_index(index);
    return images_[static_cast<size_t>(index)].clone();
  }
  const std::vector<std::string>& class_names() const override { return names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override { return "test image " + std::to_string(index); }

 private:
  std::vector<std::string> names_;
  std::vector<at::Tensor> images_;
  std::string metaclass_ = "photo";  // one token of the tiny vocabulary: fine-tuning initialises embeddings from it
  std::string name_ = "one image per class";
};

}  // namespace dmx::test
