// Shared by the classifier's model tests: parameter counts and a per-process folder for weight files.
#pragma once

#include <torch/nn/module.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace dmx::test {

// The number of trainable values, as `sum(p.numel() for p in model.parameters())` counts them.
inline int64_t parameter_count(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

// <tmp>/dmx_classifier_test_<pid>/<name>; the folder is made, the file is not.
inline std::string temp_path(const std::string& name) {
  const auto folder =
      std::filesystem::temp_directory_path() / ("dmx_classifier_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  return (folder / name).string();
}

}  // namespace dmx::test
