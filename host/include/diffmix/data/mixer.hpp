// Mixer: the real training set with some samples replaced by synthetic ones (DESIGN.md §2, "Training with
// synthetic data").
//
// Sample i of epoch e is replaced, with probability p, by a synthetic sample; both the decision and the synthetic
// sample chosen are pure functions of (seed, epoch, i). The epoch length stays the real set's size. Labels leave the
// Mixer soft (K floats): one-hot for real samples, the cache's soft label for synthetic ones.
//
// Modes:
//   uniform  — the synthetic sample is drawn uniformly from the whole cache (paper's p = 0.1/0.2/0.3/0.5 by shots);
//   balanced — SYNAuG long-tail balancing: the target class is drawn from the real class distribution reversed
//              (the tail class gets the head's share) and the sample uniformly within it; the paper uses
//              p = kBalancedReplacementProbability (0.5).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diffmix/data/dataset.hpp"
#include "diffmix/data/synthetic_cache.hpp"

namespace dmx::data {

// The replacement probability the paper uses for a k-shot run (k <= 0: all shots): 0.5, 0.3, 0.2, else 0.1.
double default_replacement_probability(int64_t shots);
inline constexpr double kBalancedReplacementProbability = 0.5;

enum class MixMode { Uniform, Balanced };

struct MixerOptions {
  double probability = 0.1;  // chance that a real sample is replaced
  MixMode mode = MixMode::Uniform;
  uint64_t seed = 0;
};

// One sample as the Mixer hands it out.
struct MixedSample {
  at::Tensor image;  // uint8 H×W×C, as decoded
  at::Tensor label;  // K floats
  bool synthetic = false;
  int64_t source_index = 0;  // index into the real dataset or the synthetic cache
};

class Mixer {
 public:
  // `synthetic` may be null (or empty): every sample is then real. A cache whose class count differs from the
  // dataset's is an invalid-argument error naming both.
  Mixer(DatasetPtr real, std::shared_ptr<const SyntheticCache> synthetic, const MixerOptions& options = {});

  struct Choice {
    bool synthetic = false;
    int64_t index = 0;  // into the real dataset or the cache
  };
  // Which sample stands at position `index` of `epoch` (pure; cheap; no decoding).
  Choice choose(int64_t index, uint64_t epoch) const;
  // Decodes the chosen sample. Thread-safe.
  MixedSample get(int64_t index, uint64_t epoch, const ImageRequest& request = {}) const;

  int64_t size() const { return real_->size(); }
  int64_t num_classes() const { return real_->num_classes(); }
  const Dataset& real() const { return *real_; }
  const DatasetPtr& real_ptr() const { return real_; }
  const std::shared_ptr<const SyntheticCache>& synthetic() const { return synthetic_; }
  const MixerOptions& options() const { return options_; }
  // Balanced mode: probability of drawing each target class (sums to 1 over classes present in the cache).
  const std::vector<double>& target_class_weights() const { return class_weights_; }

 private:
  DatasetPtr real_;
  std::shared_ptr<const SyntheticCache> synthetic_;
  MixerOptions options_;
  std::vector<double> class_weights_;      // balanced mode
  std::vector<double> class_cumulative_;   // balanced mode, for drawing
};

}  // namespace dmx::data
