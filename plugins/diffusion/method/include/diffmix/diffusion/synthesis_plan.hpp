// The job list of a synthesis run: which image to make for each of multiplier × |train| samples.
//
//   dmx::diffusion::SynthesisPlan plan(find_synthesis_strategy("diff-mix"), labels, num_classes, options);
//   dmx::data::SyntheticCacheWriter writer(folder);
//   for (int64_t k = writer.size(); k < plan.size(); ++k) {
//     const auto job = plan.job(k);                 // classes, reference image, strength, seed, soft label
//     writer.add(generate(job), to_record(job));
//   }
//
// Job k is a pure function of (seed, k): a run killed after n samples resumes at job n with exactly the jobs it
// would have made, and jobs may be computed in any order or on several workers.
//
// Draws (each uniform unless said otherwise; "classes with images" are the classes of `labels`):
//   txt2img (real-gen, diff-gen)   target class over all classes; source = target; no reference image.
//   same class (real-aug, da-fusion, diff-aug)
//                                  target class over classes with images; source = target; reference image
//                                  among that class's images.
//   independent (real-mix, diff-mix)
//                                  target class over all classes; source class over classes with images,
//                                  independently (source == target happens, and gives a one-hot label); reference
//                                  image among the source class's images.
//   strength                       from the strengths list; txt2img always 1.
//
// Long-tail balancing (TargetClasses::ReversedCounts), SYNAuG as the paper's supplementary describes it: "the
// synthetic data conforms to the distribution specified by Eq. 4 with reversed class indices, thereby generating
// more synthetic images for tail classes". With classes ranked by real count (descending, ties by class index), the
// class at rank r is drawn with probability ∝ the real count of the class at rank N−1−r: the head class gets the
// tail's share and the tail class the head's (which gives tail classes more synthetic images, without making real +
// synthetic counts equal: see mixer.hpp). This is the same mirror the Mixer's balanced mode applies when it draws synthetic samples (mixer.hpp); generating with it as well gives the
// tail classes many distinct samples instead of a few repeated ones. In this mode the reference image of an
// independent (Mix) pairing is drawn uniformly over all training images, as the authors' long-tail runs do: the
// head classes, which have most of the images, lend the tail classes their backgrounds.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/diffusion/synthesis_strategy.hpp"

namespace dmx::diffusion {

inline constexpr int64_t kDefaultMultiplier = 5;

// How target (prompt) classes are distributed over the run.
enum class TargetClasses {
  Uniform,         // every class equally likely (the paper's default)
  ReversedCounts,  // SYNAuG long-tail balancing: ∝ the mirrored real class counts (see above)
};

struct SynthesisPlanOptions {
  int64_t multiplier = kDefaultMultiplier;  // the run makes multiplier × |train| samples
  std::vector<double> strengths;            // empty: the strategy's defaults; one value: a fixed strength
  double gamma = data::kDefaultSoftLabelGamma;
  uint64_t seed = 0;
  TargetClasses target_classes = TargetClasses::Uniform;
};

struct SynthesisJob {
  int64_t index = 0;             // k, the job's place in the run (and its sample's place in the cache)
  int64_t source_class = 0;      // the reference image's class (= target_class for txt2img and same-class)
  int64_t reference_image = -1;  // index into the training set; -1 for txt2img
  int64_t target_class = 0;      // the prompt's class
  double strength = 1.0;         // SDEdit strength; 1 for txt2img
  uint64_t seed = 0;             // seeds the sampler's noise; < 2^63 so that every consumer can hold it
  at::Tensor soft_label;         // K floats: dmx::data::diffmix_soft_label(source, target, strength, K, gamma)
};

class SynthesisPlan {
 public:
  // `labels`: the class of each training image (index i of `labels` is image i of the training set, as
  // reference_image refers to it), in [0, num_classes). A label outside that range, an empty training set,
  // multiplier < 1, a strength outside (0, 1], strengths for a txt2img strategy or gamma <= 0 are InvalidArgument
  // errors naming the value.
  SynthesisPlan(SynthesisStrategy strategy, std::vector<int64_t> labels, int64_t num_classes,
                SynthesisPlanOptions options = {});

  // Number of jobs: multiplier × |train|.
  int64_t size() const { return size_; }
  // Job k, k in [0, size()); pure and thread-safe.
  SynthesisJob job(int64_t k) const;

  const SynthesisStrategy& strategy() const { return strategy_; }
  const SynthesisPlanOptions& options() const { return options_; }
  int64_t num_classes() const { return num_classes_; }
  // The strengths jobs draw from (the options' or the strategy's); {1} for txt2img.
  const std::vector<double>& strengths() const { return strengths_; }
  // Probability of each target class, indexed by class; sums to 1.
  const std::vector<double>& target_class_probabilities() const { return target_probabilities_; }

 private:
  int64_t draw_target(double u) const;

  SynthesisStrategy strategy_;
  std::vector<int64_t> labels_;
  int64_t num_classes_;
  SynthesisPlanOptions options_;
  int64_t size_ = 0;
  std::vector<double> strengths_;
  std::vector<std::vector<int64_t>> images_by_class_;
  std::vector<int64_t> classes_with_images_;
  std::vector<double> target_probabilities_;
  std::vector<double> target_cumulative_;
};

// The probability of each class under SYNAuG balancing: class at rank r (by count, descending, ties by index) gets
// ∝ the count of the class at rank N−1−r. Only classes with allowed[c] true receive weight (the others cannot be
// drawn, e.g. a class without images for a same-class strategy); if the mirrored counts of all allowed classes are
// zero the allowed classes share equally. An empty `allowed` allows every class.
std::vector<double> reversed_count_probabilities(const std::vector<int64_t>& class_counts,
                                                 const std::vector<bool>& allowed = {});

// The cache manifest record of a job. The soft label is left out (the cache recomputes the standard Diff-Mix label
// with the γ it is opened with, so one cache serves every γ) unless `store_soft_label`, which freezes the job's.
data::SyntheticRecord to_record(const SynthesisJob& job, bool store_soft_label = false);

}  // namespace dmx::diffusion
