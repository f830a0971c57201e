// Augmenters created by plugins, as the host and a LibTorch trainer see them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diffmix/batch.hpp"

namespace dmx {

class PluginRegistry;
namespace config {
class Table;
}

// Everything an augmenter learns about the run that creates it.
struct AugmenterContext {
  int64_t num_classes = 0;
  uint64_t seed = 0;
  std::string device = "cpu";  // "cpu" or "cuda[:N]"
  std::string cache_dir;       // where a sample source may keep models and synthetic images
};

// A batch augmenter (CutMix, Mixup, ...): maps (images, soft labels) to a new batch. `step` is the global batch index,
// so that the randomness of a batch is a function of (seed, step) and a resumed run repeats it exactly.
class BatchAugmenter {
 public:
  virtual ~BatchAugmenter() = default;
  virtual Batch apply(const Batch& batch, uint64_t step) = 0;
  virtual const std::string& name() const = 0;
};

// The batch augmenters of a run, applied in order.
class AugmentChain {
 public:
  AugmentChain() = default;
  explicit AugmentChain(std::vector<std::shared_ptr<BatchAugmenter>> augmenters);

  // One augmenter per table; each table names its augmenter with `augmenter = "cutmix"` and holds its parameters.
  static AugmentChain from_config(PluginRegistry& registry, const std::vector<config::Table>& tables,
                                  const AugmenterContext& context);

  Batch apply(Batch batch, uint64_t step) const;
  bool empty() const { return augmenters_.empty(); }
  std::vector<std::string> names() const;

 private:
  std::vector<std::shared_ptr<BatchAugmenter>> augmenters_;
};

}  // namespace dmx
