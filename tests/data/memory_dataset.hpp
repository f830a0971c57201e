// An in-memory dataset for the Mixer and Loader tests: sample i is a 12×10 picture whose blue channel encodes i.
#pragma once

#include <ATen/ATen.h>

#include <set>
#include <string>
#include <vector>

#include "diffmix/data/dataset.hpp"
#include "diffmix/error.hpp"

namespace dmx::test {

class MemoryDataset : public data::Dataset {
 public:
  // counts[c] samples of class c, classes interleaved; samples in `corrupt` fail to decode like a broken file.
  explicit MemoryDataset(const std::vector<int64_t>& counts, std::set<int64_t> corrupt = {})
      : corrupt_(std::move(corrupt)) {
    int64_t remaining = 0;
    for (const int64_t n : counts) remaining += n;
    std::vector<int64_t> left = counts;
    while (remaining > 0) {
      for (size_t c = 0; c < left.size(); ++c) {
        if (left[c] == 0) continue;
        labels_.push_back(static_cast<int64_t>(c));
        --left[c];
        --remaining;
      }
    }
    for (size_t c = 0; c < counts.size(); ++c) names_.push_back("class_" + std::to_string(c));
  }

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t label(int64_t i) const override {
    check_index(i);
    return labels_[static_cast<size_t>(i)];
  }
  at::Tensor load_image(int64_t i, const data::ImageRequest&) const override {
    check_index(i);
    if (corrupt_.count(i)) throw format_error(describe(i) + ": corrupt JPEG data (test)");
    at::Tensor image = at::zeros({12, 10, 3}, at::kByte);
    image.select(2, 2).fill_(i % 256);
    image.select(2, 0).fill_(label(i));
    return image;
  }
  const std::vector<std::string>& class_names() const override { return names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t i) const override { return "memory/" + std::to_string(i) + ".jpg"; }

 private:
  std::vector<int64_t> labels_;
  std::vector<std::string> names_;
  std::set<int64_t> corrupt_;
  std::string metaclass_ = "thing", name_ = "memory";
};

}  // namespace dmx::test
