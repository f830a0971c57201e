#include "diffmix/data/mixer.hpp"

#include <algorithm>

#include "diffmix/data/sample_rng.hpp"
#include "diffmix/data/subsets.hpp"
#include "diffmix/error.hpp"

namespace dmx::data {

double default_replacement_probability(int64_t shots) {
  if (shots == 1) return 0.5;
  if (shots == 5) return 0.3;
  if (shots == 10) return 0.2;
  return 0.1;
}

namespace {

// SYNAuG: the class at rank r (by real count, descending) receives the real count of the class at rank N−1−r, so
// the synthetic data mirror the long tail. Classes the cache has no sample for get nothing; the rest is normalised.
std::vector<double> reversed_class_weights(const std::vector<int64_t>& real_counts, const SyntheticCache& cache) {
  const std::vector<int64_t> order = classes_by_count(real_counts);
  const size_t n = order.size();
  std::vector<double> weights(n, 0.0);
  double total = 0.0;
  for (size_t rank = 0; rank < n; ++rank) {
    const auto c = static_cast<size_t>(order[rank]);
    if (cache.indices_by_target()[c].empty()) continue;
    weights[c] = static_cast<double>(real_counts[static_cast<size_t>(order[n - 1 - rank])]);
    total += weights[c];
  }
  if (total <= 0.0) {  // e.g. the mirrored classes are all absent: fall back to the classes the cache has
    for (size_t c = 0; c < n; ++c) weights[c] = cache.indices_by_target()[c].empty() ? 0.0 : 1.0;
    for (const double w : weights) total += w;
  }
  for (double& w : weights) w /= total;
  return weights;
}

}  // namespace

Mixer::Mixer(DatasetPtr real, std::shared_ptr<const SyntheticCache> synthetic, const MixerOptions& options)
    : real_(std::move(real)), synthetic_(std::move(synthetic)), options_(options) {
  if (!real_) throw invalid_argument("Mixer: no real dataset");
  if (!(options_.probability >= 0.0 && options_.probability <= 1.0))
    throw invalid_argument("Mixer: replacement probability " + std::to_string(options_.probability) +
                           " outside [0, 1]");
  if (synthetic_ && synthetic_->num_classes() != real_->num_classes())
    throw invalid_argument("Mixer: synthetic cache " + synthetic_->folder() + " has " +
                           std::to_string(synthetic_->num_classes()) + " classes but " + real_->name() + " has " +
                           std::to_string(real_->num_classes()));
  if (synthetic_ && synthetic_->size() > 0 && options_.mode == MixMode::Balanced) {
    class_weights_ = reversed_class_weights(real_->class_counts(), *synthetic_);
    double running = 0.0;
    for (const double w : class_weights_) class_cumulative_.push_back(running += w);
  }
}

Mixer::Choice Mixer::choose(int64_t index, uint64_t epoch) const {
  real_->check_index(index);
  if (!synthetic_ || synthetic_->size() == 0) return {false, index};
  SampleRng rng(options_.seed, RandomStream::Mixer, epoch, static_cast<uint64_t>(index));
  if (!rng.bernoulli(options_.probability)) return {false, index};
  if (options_.mode == MixMode::Uniform)
    return {true, static_cast<int64_t>(rng.below(static_cast<uint64_t>(synthetic_->size())))};

  const double u = rng.uniform() * class_cumulative_.back();
  auto cls = static_cast<size_t>(std::upper_bound(class_cumulative_.begin(), class_cumulative_.end(), u) -
                                 class_cumulative_.begin());
  cls = std::min(cls, class_cumulative_.size() - 1);
  while (synthetic_->indices_by_target()[cls].empty()) cls = (cls + 1) % class_cumulative_.size();  // rounding edge
  const auto& pool = synthetic_->indices_by_target()[cls];
  return {true, pool[rng.below(pool.size())]};
}

MixedSample Mixer::get(int64_t index, uint64_t epoch, const ImageRequest& request) const {
  const Choice choice = choose(index, epoch);
  MixedSample sample;
  sample.synthetic = choice.synthetic;
  sample.source_index = choice.index;
  if (choice.synthetic) {
    sample.image = synthetic_->load_image(choice.index, request);
    sample.label = synthetic_->soft_label(choice.index);
  } else {
    sample.image = real_->load_image(choice.index, request);
    sample.label = at::zeros({real_->num_classes()}, at::kFloat);
    sample.label.data_ptr<float>()[real_->label(choice.index)] = 1.0f;
  }
  return sample;
}

}  // namespace dmx::data
