// Mixer: the real training set with some samples replaced by synthetic ones (docs/method.md, "Training with
// synthetic data").
//
// Sample i of epoch e is replaced, with probability p, by a synthetic sample; both the decision and the synthetic
// sample chosen are pure functions of (seed, epoch, i, n), where n is the number of synthetic samples the pool lets
// epoch e use (all of a cache; what a stream has made so far, or a fixed number when it is synchronous; see
// synthetic_pool.hpp). With n = 0 nothing is replaced. The epoch length stays the real set's size. Labels leave the
// Mixer soft (K floats): one-hot for real samples, the cache's soft label for synthetic ones.
//
// Modes:
//   uniform  — the synthetic sample is drawn uniformly from the whole cache (paper's p = 0.1/0.2/0.3/0.5 by shots);
//   balanced — SYNAuG long-tail balancing as the paper's supplementary describes it: the target class is drawn
//              from the real class distribution reversed (the tail class gets the head's share) and the sample
//              uniformly within it. This does not even the classes out: real counts 100/50/20/10/5 at p = 0.5 give
//              52.5/30/20/30/52.5 real + synthetic samples per epoch.
//   inverse  — SYNAuG as the authors' code weights it: class c with weight ∝ 1 / (n_c + 1), n_c its real count.
//   Both long-tail modes use p = kBalancedReplacementProbability (0.5) unless a probability is given.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "diffmix/data/dataset.hpp"
#include "diffmix/data/synthetic_cache.hpp"  // the usual pool; includes synthetic_pool.hpp

namespace dmx::data {

class SampleRng;

// The replacement probability the paper uses for a k-shot run (k <= 0: all shots): 0.5, 0.3, 0.2, else 0.1.
double default_replacement_probability(int64_t shots);
inline constexpr double kBalancedReplacementProbability = 0.5;

enum class MixMode { Uniform, Balanced, Inverse };

struct MixerOptions {
  double probability = 0.1;  // chance that a real sample is replaced
  MixMode mode = MixMode::Uniform;
  uint64_t seed = 0;
  // Synthetic labels are multiplied by this ([synthetic] soft_scaler): the authors' code gives synthetic samples of
  // the five fine-grained sets labels that sum to 0.9. 1 keeps them as the manifest's soft labels.
  double synthetic_label_scale = 1.0;
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
  // `synthetic` (a SyntheticCache or a SampleStream) may be null (or empty): every sample is then real. A pool whose
  // class count differs from the dataset's is an invalid-argument error naming both.
  Mixer(DatasetPtr real, std::shared_ptr<const SyntheticPool> synthetic, const MixerOptions& options = {});

  struct Choice {
    bool synthetic = false;
    int64_t index = 0;  // into the real dataset or the cache
  };
  // Which sample stands at position `index` of `epoch` when the first `pool_size` synthetic samples may be drawn
  // (pure; cheap; no decoding).
  Choice choose(int64_t index, uint64_t epoch, int64_t pool_size) const;
  // The same with the pool size the pool gives for `epoch` (a synchronous stream may wait for it).
  Choice choose(int64_t index, uint64_t epoch) const;
  // Decodes the chosen sample. Thread-safe.
  MixedSample get(int64_t index, uint64_t epoch, const ImageRequest& request = {}) const;

  int64_t size() const { return real_->size(); }
  int64_t num_classes() const { return real_->num_classes(); }
  const Dataset& real() const { return *real_; }
  const DatasetPtr& real_ptr() const { return real_; }
  const std::shared_ptr<const SyntheticPool>& synthetic() const { return synthetic_; }
  const MixerOptions& options() const { return options_; }
  // Balanced and inverse modes: probability of drawing each target class from the first `pool_size` synthetic
  // samples (sums to 1 over the classes present among them).
  std::vector<double> target_class_weights(int64_t pool_size) const;

 private:
  // Running sums of target_class_weights(pool_size), for drawing; remembered for the last pool size asked.
  std::shared_ptr<const std::vector<double>> cumulative_weights(int64_t pool_size) const;
  int64_t draw_balanced(SampleRng& rng, int64_t pool_size) const;

  DatasetPtr real_;
  std::shared_ptr<const SyntheticPool> synthetic_;
  MixerOptions options_;
  std::vector<int64_t> real_counts_;
  mutable std::mutex weights_mutex_;
  mutable int64_t weights_pool_size_ = -1;
  mutable std::shared_ptr<const std::vector<double>> cumulative_;
};

}  // namespace dmx::data
