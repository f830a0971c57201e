#include "diffmix/diffusion/synthesis_plan.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "diffmix/data/sample_rng.hpp"
#include "diffmix/data/subsets.hpp"
#include "diffmix/error.hpp"

namespace dmx::diffusion {
namespace {

// 0.5 → "0.5", not std::to_string's "0.500000".
std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string where(const SynthesisStrategy& strategy) { return "synthesis plan (" + strategy.name + ")"; }

std::vector<double> checked_strengths(const SynthesisStrategy& strategy, const std::vector<double>& requested) {
  if (!strategy.uses_reference_image()) {
    if (!requested.empty())
      throw invalid_argument(where(strategy) + ": strengths do not apply to a txt2img strategy, which always " +
                             "denoises from pure noise; leave them unset");
    return {1.0};
  }
  const std::vector<double>& strengths = requested.empty() ? strategy.default_strengths : requested;
  for (const double s : strengths)
    if (!(s > 0.0 && s <= 1.0))
      throw invalid_argument(where(strategy) + ": strength " + format_number(s) + " outside (0, 1]");
  return strengths;
}

std::vector<double> cumulative(const std::vector<double>& probabilities) {
  std::vector<double> out;
  double running = 0.0;
  for (const double p : probabilities) out.push_back(running += p);
  return out;
}

// Index of the first cumulative value above u; never past the last class with weight (rounding at the top end).
int64_t draw_from_cumulative(const std::vector<double>& cumulative_weights, double u) {
  const double total = cumulative_weights.back();
  auto it = std::upper_bound(cumulative_weights.begin(), cumulative_weights.end(), u * total);
  if (it == cumulative_weights.end())
    it = std::lower_bound(cumulative_weights.begin(), cumulative_weights.end(), total);
  return static_cast<int64_t>(it - cumulative_weights.begin());
}

}  // namespace

std::vector<double> reversed_count_probabilities(const std::vector<int64_t>& class_counts,
                                                 const std::vector<bool>& allowed) {
  const size_t n = class_counts.size();
  if (!allowed.empty() && allowed.size() != n)
    throw invalid_argument("reversed_count_probabilities: " + std::to_string(allowed.size()) + " flags for " +
                           std::to_string(n) + " classes");
  const auto is_allowed = [&](size_t c) { return allowed.empty() || allowed[c]; };
  const std::vector<int64_t> order = data::classes_by_count(class_counts);
  std::vector<double> weights(n, 0.0);
  double total = 0.0;
  for (size_t rank = 0; rank < n; ++rank) {
    const auto c = static_cast<size_t>(order[rank]);
    if (!is_allowed(c)) continue;
    weights[c] = static_cast<double>(class_counts[static_cast<size_t>(order[n - 1 - rank])]);
    total += weights[c];
  }
  if (total <= 0.0) {
    for (size_t c = 0; c < n; ++c) weights[c] = is_allowed(c) ? 1.0 : 0.0;
    total = static_cast<double>(std::count(weights.begin(), weights.end(), 1.0));
  }
  if (total <= 0.0) throw invalid_argument("reversed_count_probabilities: no class may be drawn");
  for (double& w : weights) w /= total;
  return weights;
}

namespace {

// A same-class job needs a reference image of its target class, so only classes with images can be its targets.
std::vector<double> target_probabilities(ClassPairing pairing, const std::vector<int64_t>& counts,
                                         TargetClasses mode) {
  std::vector<bool> allowed(counts.size(), true);
  if (pairing == ClassPairing::SameClass)
    for (size_t c = 0; c < counts.size(); ++c) allowed[c] = counts[c] > 0;
  if (mode == TargetClasses::ReversedCounts) return reversed_count_probabilities(counts, allowed);
  const auto n = static_cast<double>(std::count(allowed.begin(), allowed.end(), true));
  std::vector<double> probabilities;
  for (const bool a : allowed) probabilities.push_back(a ? 1.0 / n : 0.0);
  return probabilities;
}

}  // namespace

SynthesisPlan::SynthesisPlan(SynthesisStrategy strategy, std::vector<int64_t> labels, int64_t num_classes,
                             SynthesisPlanOptions options)
    : strategy_(std::move(strategy)), labels_(std::move(labels)), num_classes_(num_classes),
      options_(std::move(options)) {
  if (num_classes_ <= 0) throw invalid_argument(where(strategy_) + ": num_classes must be > 0");
  if (options_.multiplier < 1)
    throw invalid_argument(where(strategy_) + ": multiplier " + std::to_string(options_.multiplier) + " must be >= 1");
  if (!(options_.gamma > 0.0 && std::isfinite(options_.gamma)))
    throw invalid_argument(where(strategy_) + ": gamma " + format_number(options_.gamma) + " must be > 0");
  if (labels_.empty()) throw invalid_argument(where(strategy_) + ": the training set is empty");
  strengths_ = checked_strengths(strategy_, options_.strengths);

  images_by_class_.resize(static_cast<size_t>(num_classes_));
  for (size_t i = 0; i < labels_.size(); ++i) {
    const int64_t label = labels_[i];
    if (label < 0 || label >= num_classes_)
      throw invalid_argument(where(strategy_) + ": training image " + std::to_string(i) + " has class " +
                             std::to_string(label) + " outside [0, " + std::to_string(num_classes_) + ")");
    images_by_class_[static_cast<size_t>(label)].push_back(static_cast<int64_t>(i));
  }
  std::vector<int64_t> counts;
  for (int64_t c = 0; c < num_classes_; ++c) {
    counts.push_back(static_cast<int64_t>(images_by_class_[static_cast<size_t>(c)].size()));
    if (counts.back() > 0) classes_with_images_.push_back(c);
  }
  size_ = options_.multiplier * static_cast<int64_t>(labels_.size());

  target_probabilities_ = target_probabilities(strategy_.pairing, counts, options_.target_classes);
  target_cumulative_ = cumulative(target_probabilities_);
}

int64_t SynthesisPlan::draw_target(double u) const { return draw_from_cumulative(target_cumulative_, u); }

SynthesisJob SynthesisPlan::job(int64_t k) const {
  if (k < 0 || k >= size_)
    throw invalid_argument(where(strategy_) + ": job " + std::to_string(k) + " outside [0, " + std::to_string(size_) +
                           ")");
  // A stream of its own: a run that synthesizes and trains with one seed makes independent decisions in the two.
  data::SampleRng rng(options_.seed, data::RandomStream::Synthesis, 0, static_cast<uint64_t>(k));
  SynthesisJob job;
  job.index = k;
  job.target_class = draw_target(rng.uniform());

  const auto pick_image_of = [&](int64_t c) {
    const auto& images = images_by_class_[static_cast<size_t>(c)];
    return images[rng.below(images.size())];
  };
  switch (strategy_.pairing) {
    case ClassPairing::EachClass:
      job.source_class = job.target_class;
      break;
    case ClassPairing::SameClass:
      job.source_class = job.target_class;
      job.reference_image = pick_image_of(job.source_class);
      break;
    case ClassPairing::IndependentClasses:
      if (options_.target_classes == TargetClasses::ReversedCounts) {
        job.reference_image = static_cast<int64_t>(rng.below(labels_.size()));
        job.source_class = labels_[static_cast<size_t>(job.reference_image)];
      } else {
        job.source_class = classes_with_images_[rng.below(classes_with_images_.size())];
        job.reference_image = pick_image_of(job.source_class);
      }
      break;
  }
  job.strength = strengths_[rng.below(strengths_.size())];
  job.seed = rng.next() >> 1;
  job.soft_label =
      data::diffmix_soft_label(job.source_class, job.target_class, job.strength, num_classes_, options_.gamma);
  return job;
}

data::SyntheticRecord to_record(const SynthesisJob& job, bool store_soft_label) {
  data::SyntheticRecord record;
  record.source_class = job.source_class;
  record.target_class = job.target_class;
  record.strength = job.strength;
  record.seed = job.seed;
  if (store_soft_label && job.soft_label.defined()) {
    const at::Tensor label = job.soft_label.to(at::kFloat).contiguous();
    record.soft_label.assign(label.data_ptr<float>(), label.data_ptr<float>() + label.numel());
  }
  return record;
}

}  // namespace dmx::diffusion
