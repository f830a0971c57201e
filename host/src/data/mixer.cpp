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

// Weights over the classes present in the pool, normalised; when they are all zero (the weighted classes are
// absent), every present class gets the same share.
std::vector<double> normalised(std::vector<double> weights, const std::vector<bool>& present) {
  double total = 0.0;
  for (size_t c = 0; c < weights.size(); ++c) total += weights[c] = present[c] ? weights[c] : 0.0;
  if (total <= 0.0) {
    for (size_t c = 0; c < weights.size(); ++c) weights[c] = present[c] ? 1.0 : 0.0;
    for (const double w : weights) total += w;
  }
  if (total > 0.0)
    for (double& w : weights) w /= total;
  return weights;
}

// SYNAuG as the supplementary describes it: the class at rank r (by real count, descending) receives the real count
// of the class at rank N−1−r, so the synthetic data mirror the long tail.
std::vector<double> mirrored_class_weights(const std::vector<int64_t>& real_counts) {
  const std::vector<int64_t> order = classes_by_count(real_counts);
  const size_t n = order.size();
  std::vector<double> weights(n, 0.0);
  for (size_t rank = 0; rank < n; ++rank)
    weights[static_cast<size_t>(order[rank])] = static_cast<double>(real_counts[static_cast<size_t>(order[n - 1 - rank])]);
  return weights;
}

// SYNAuG as the authors' code weights it: 1 / (n_c + 1).
std::vector<double> inverse_count_weights(const std::vector<int64_t>& real_counts) {
  std::vector<double> weights;
  for (const int64_t count : real_counts) weights.push_back(1.0 / (static_cast<double>(count) + 1.0));
  return weights;
}

}  // namespace

Mixer::Mixer(DatasetPtr real, std::shared_ptr<const SyntheticPool> synthetic, const MixerOptions& options)
    : real_(std::move(real)), synthetic_(std::move(synthetic)), options_(options) {
  if (!real_) throw invalid_argument("Mixer: no real dataset");
  if (!(options_.probability >= 0.0 && options_.probability <= 1.0))
    throw invalid_argument("Mixer: replacement probability " + std::to_string(options_.probability) +
                           " outside [0, 1]");
  if (synthetic_ && synthetic_->num_classes() != real_->num_classes())
    throw invalid_argument("Mixer: synthetic samples in " + synthetic_->folder() + " have " +
                           std::to_string(synthetic_->num_classes()) + " classes but " + real_->name() + " has " +
                           std::to_string(real_->num_classes()));
  real_counts_ = real_->class_counts();
}

std::vector<double> Mixer::target_class_weights(int64_t pool_size) const {
  std::vector<bool> present(static_cast<size_t>(num_classes()), false);
  if (synthetic_)
    for (int64_t c = 0; c < num_classes(); ++c) present[static_cast<size_t>(c)] = synthetic_->count_with_target(c, pool_size) > 0;
  return normalised(options_.mode == MixMode::Inverse ? inverse_count_weights(real_counts_)
                                                     : mirrored_class_weights(real_counts_),
                    present);
}

std::shared_ptr<const std::vector<double>> Mixer::cumulative_weights(int64_t pool_size) const {
  std::lock_guard<std::mutex> lock(weights_mutex_);
  if (weights_pool_size_ != pool_size) {
    auto cumulative = std::make_shared<std::vector<double>>();
    double running = 0.0;
    for (const double w : target_class_weights(pool_size)) cumulative->push_back(running += w);
    cumulative_ = std::move(cumulative);
    weights_pool_size_ = pool_size;
  }
  return cumulative_;
}

int64_t Mixer::draw_balanced(SampleRng& rng, int64_t pool_size) const {
  const auto cumulative = cumulative_weights(pool_size);
  const double u = rng.uniform() * cumulative->back();
  auto cls = static_cast<int64_t>(std::upper_bound(cumulative->begin(), cumulative->end(), u) - cumulative->begin());
  const auto classes = static_cast<int64_t>(cumulative->size());
  cls = std::min(cls, classes - 1);
  while (synthetic_->count_with_target(cls, pool_size) == 0) cls = (cls + 1) % classes;  // rounding edge
  const int64_t count = synthetic_->count_with_target(cls, pool_size);
  return synthetic_->with_target(cls, static_cast<int64_t>(rng.below(static_cast<uint64_t>(count))));
}

Mixer::Choice Mixer::choose(int64_t index, uint64_t epoch, int64_t pool_size) const {
  real_->check_index(index);
  if (!synthetic_ || pool_size <= 0) return {false, index};
  SampleRng rng(options_.seed, RandomStream::Mixer, epoch, static_cast<uint64_t>(index));
  if (!rng.bernoulli(options_.probability)) return {false, index};
  if (options_.mode == MixMode::Uniform) return {true, static_cast<int64_t>(rng.below(static_cast<uint64_t>(pool_size)))};
  return {true, draw_balanced(rng, pool_size)};
}

Mixer::Choice Mixer::choose(int64_t index, uint64_t epoch) const {
  return choose(index, epoch, synthetic_ ? synthetic_->usable_size(epoch) : 0);
}

MixedSample Mixer::get(int64_t index, uint64_t epoch, const ImageRequest& request) const {
  const Choice choice = choose(index, epoch);
  MixedSample sample;
  sample.synthetic = choice.synthetic;
  sample.source_index = choice.index;
  if (choice.synthetic) {
    sample.image = synthetic_->load_image(choice.index, request);
    sample.label = synthetic_->soft_label(choice.index);
    if (options_.synthetic_label_scale != 1.0) sample.label = sample.label * options_.synthetic_label_scale;
  } else {
    sample.image = real_->load_image(choice.index, request);
    sample.label = at::zeros({real_->num_classes()}, at::kFloat);
    sample.label.data_ptr<float>()[real_->label(choice.index)] = 1.0f;
  }
  return sample;
}

}  // namespace dmx::data
