// A dataset of three tiny images of three classes ("a", "b", "c"; image k is 2×2×3 with every byte k), for tests
// that need a dataset to create a sample source with.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "diffmix/data/dataset.hpp"

namespace dmx::test {

class ThreeImages : public data::Dataset {
 public:
  int64_t size() const override { return 3; }
  int64_t label(int64_t index) const override { return index; }
  at::Tensor load_image(int64_t index, const data::ImageRequest&) const override {
    check_index(index);
    return at::full({2, 2, 3}, index, at::kByte);
  }
  const std::vector<std::string>& class_names() const override { return names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override { return "image " + std::to_string(index); }

 private:
  std::vector<std::string> names_{"a", "b", "c"};
  std::string metaclass_ = "thing";
  std::string name_ = "three images";
};

}  // namespace dmx::test
