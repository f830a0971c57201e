// Shared by the classifier's model tests: parameter counts and a per-process folder for weight files.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <string>

#include "common/test_files.hpp"

namespace dmx::test {

// The number of trainable values, as `sum(p.numel() for p in model.parameters())` counts them.
inline int64_t parameter_count(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

// <tmp>/dmx_classifier_test_<pid>/<name>; the folder is made, the file is not.
inline std::string temp_path(const std::string& name) {
  return (process_folder("dmx_classifier_test") / name).string();
}

}  // namespace dmx::test
