// For the weight-validation tests: a copy of one diffusers component folder (config.json + weights) in a fresh
// temporary folder, with the weights edited by the test (a tensor removed, reshaped or added).
#pragma once

#include "diffmix/io/safetensors.hpp"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace dmx::test {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

inline NamedTensors read_all_tensors(const std::string& path) {
  const auto file = dmx::io::SafetensorsFile::open(path);
  NamedTensors tensors;
  for (const auto& name : file.names()) tensors.emplace_back(name, file.tensor(name));
  return tensors;
}

class ComponentCopy {
 public:
  // component_dir: e.g. <fixtures>/model/unet; weights_name: the safetensors file inside it.
  ComponentCopy(const std::string& component_dir, const std::string& weights_name,
                const std::function<void(NamedTensors&)>& edit) {
    std::string pattern = (std::filesystem::temp_directory_path() / "diffmix-sd-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    dir_ = pattern;
    std::filesystem::copy_file(component_dir + "/config.json", dir_ + "/config.json");
    auto tensors = read_all_tensors(component_dir + "/" + weights_name);
    edit(tensors);
    dmx::io::save_safetensors(dir_ + "/" + weights_name, tensors);
  }
  ~ComponentCopy() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  ComponentCopy(const ComponentCopy&) = delete;
  ComponentCopy& operator=(const ComponentCopy&) = delete;

  const std::string& dir() const { return dir_; }

  // Rewrites the copy's config.json.
  void edit_config(const std::function<void(nlohmann::json&)>& edit) const {
    nlohmann::json config;
    std::ifstream(dir_ + "/config.json") >> config;
    edit(config);
    std::ofstream(dir_ + "/config.json") << config.dump(2);
  }

 private:
  std::string dir_;
};

inline void remove_tensor(NamedTensors& tensors, const std::string& name) {
  for (auto it = tensors.begin(); it != tensors.end(); ++it) {
    if (it->first == name) {
      tensors.erase(it);
      return;
    }
  }
  throw std::runtime_error("no tensor " + name + " to remove");
}

inline at::Tensor& tensor_named(NamedTensors& tensors, const std::string& name) {
  for (auto& [key, value] : tensors) {
    if (key == name) return value;
  }
  throw std::runtime_error("no tensor " + name);
}

}  // namespace dmx::test
