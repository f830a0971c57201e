// diffmix augmenters in torch::data pipelines.
//
//   dmx::PluginRegistry registry;                      // $DIFFMIX_PLUGIN_PATH and the installed plugins
//   auto config = dmx::config::Document::parse_file("augment.toml");
//   auto chain = std::make_shared<dmx::AugmentChain>(
//       dmx::AugmentChain::from_config(registry, config.root().table_array("augment"), {num_classes, seed}));
//   auto loader = torch::data::make_data_loader(
//       dataset.map(dmx::StackAndAugment(chain, num_classes)), batch_size);
//   for (auto& batch : *loader) { /* batch.data: N×C×H×W, batch.target: N×K soft labels */ }
//
// StackAndAugment takes the place of Stack<>(): it stacks, then augments. (LibTorch's map() cannot take a second
// batch transform after Stack<>(): its type check asks the stacked Example for a value_type it does not have.)
// In a hand-written loop over a Stack<>() loader, call dmx::augment() on each batch instead.
//
// This header includes torch/data; include it only where the data pipeline is built.
#pragma once

#include <torch/data/example.h>
#include <torch/data/transforms/base.h>

#include <atomic>
#include <memory>
#include <vector>

#include "diffmix/augmenter.hpp"
#include "diffmix/batch.hpp"

namespace dmx {

// Class indices (N, integer) or soft labels (N×K, float) as N×K float soft labels.
inline at::Tensor as_soft_labels(const at::Tensor& target, int64_t num_classes) {
  if (target.dim() == 1 && !at::isFloatingType(target.scalar_type())) return dmx::one_hot(target, num_classes);
  return target.to(at::kFloat);
}

// For a hand-written loop: run the chain on (images, class indices or soft labels) for global batch `step`.
inline Batch augment(const AugmentChain& chain, const at::Tensor& images, const at::Tensor& target,
                     int64_t num_classes, uint64_t step) {
  return chain.apply({images, as_soft_labels(target, num_classes)}, step);
}

// A BatchTransform for `.map(...)` in place of `Stack<>()`: stacks the examples, turns targets into N×K soft labels
// and runs the chain. Batches are numbered in the order the transform sees them; use a hand-written loop with
// augment() when the numbering must survive a resume.
class StackAndAugment
    : public torch::data::transforms::BatchTransform<std::vector<torch::data::Example<>>, torch::data::Example<>> {
 public:
  StackAndAugment(std::shared_ptr<const AugmentChain> chain, int64_t num_classes, uint64_t first_step = 0)
      : chain_(std::move(chain)), num_classes_(num_classes), step_(std::make_shared<std::atomic<uint64_t>>(first_step)) {}

  torch::data::Example<> apply_batch(std::vector<torch::data::Example<>> examples) override {
    std::vector<at::Tensor> images, targets;
    images.reserve(examples.size());
    targets.reserve(examples.size());
    for (auto& example : examples) {
      images.push_back(std::move(example.data));
      targets.push_back(std::move(example.target));
    }
    const Batch out = augment(*chain_, at::stack(images), at::stack(targets), num_classes_, step_->fetch_add(1));
    return {out.images, out.labels};
  }

 private:
  std::shared_ptr<const AugmentChain> chain_;
  int64_t num_classes_;
  std::shared_ptr<std::atomic<uint64_t>> step_;  // shared: the data loader copies its transforms
};

}  // namespace dmx
