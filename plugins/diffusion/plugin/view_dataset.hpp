// The host's training set, seen through the plugin ABI's dataset view, as a dmx::data::Dataset: what the synthesis
// plan (labels) and the fine-tuner (images, class names, metaclass) read.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "diffmix/data/dataset.hpp"
#include "diffmix/plugin_api.h"

namespace dmx::diffusion_plugin {

class ViewDataset final : public data::Dataset {
 public:
  // Copies the labels, class names and metaclass once; images are fetched through the view on demand. A missing or
  // too small view, an empty set or a label outside [0, classes) is an InvalidArgument error naming `owner`.
  ViewDataset(const dmx_dataset_view* view, std::string owner);

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t label(int64_t index) const override;
  // uint8 H×W×C as the host decoded it; a host-side failure (a corrupt image) keeps the host's message and status.
  at::Tensor load_image(int64_t index, const data::ImageRequest& request = {}) const override;
  const std::vector<std::string>& class_names() const override { return class_names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override;

  const std::vector<int64_t>& labels() const { return labels_; }

 private:
  dmx_dataset_view view_{};
  std::string owner_;
  std::string name_;
  std::vector<int64_t> labels_;
  std::vector<std::string> class_names_;
  std::string metaclass_;
};

}  // namespace dmx::diffusion_plugin
