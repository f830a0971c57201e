// Synthesis plans: sizes, order independence (resumability), the draws of each strategy, soft labels and SYNAuG
// long-tail balancing.
#include "diffmix/diffusion/synthesis_plan.hpp"

#include "diffmix/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

namespace {

using namespace dmx::diffusion;

// `counts[c]` images of class c, interleaved so that image indices and classes are not aligned.
std::vector<int64_t> labels_with_counts(const std::vector<int64_t>& counts) {
  std::vector<int64_t> labels;
  for (int64_t round = 0; labels.size() < static_cast<size_t>(std::accumulate(counts.begin(), counts.end(), 0));
       ++round)
    for (size_t c = 0; c < counts.size(); ++c)
      if (round < counts[c]) labels.push_back(static_cast<int64_t>(c));
  return labels;
}

SynthesisPlan make_plan(const std::string& strategy, const std::vector<int64_t>& labels, int64_t num_classes,
                        SynthesisPlanOptions options = {}) {
  return SynthesisPlan(find_synthesis_strategy(strategy), labels, num_classes, options);
}

void expect_same_job(const SynthesisJob& a, const SynthesisJob& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.source_class, b.source_class);
  EXPECT_EQ(a.reference_image, b.reference_image);
  EXPECT_EQ(a.target_class, b.target_class);
  EXPECT_EQ(a.strength, b.strength);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_TRUE(at::equal(a.soft_label, b.soft_label));
}

// |observed − n·p| within 5 standard deviations of a binomial(n, p): fails by chance about once in 3.5 million.
void expect_binomial(int64_t observed, int64_t n, double p, const std::string& what) {
  const double mean = static_cast<double>(n) * p;
  const double sigma = std::sqrt(static_cast<double>(n) * p * (1.0 - p));
  EXPECT_LE(std::abs(static_cast<double>(observed) - mean), 5.0 * sigma)
      << what << ": " << observed << " of " << n << ", expected about " << mean;
}

TEST(SynthesisPlan, MakesMultiplierTimesTrainingSetJobs) {
  const auto labels = labels_with_counts({3, 1, 4, 1, 5});  // 14 images, long-tail shaped
  EXPECT_EQ(make_plan("diff-mix", labels, 5).size(), 5 * 14);
  SynthesisPlanOptions options;
  options.multiplier = 2;
  EXPECT_EQ(make_plan("real-gen", labels, 5, options).size(), 2 * 14);
  EXPECT_THROW(make_plan("diff-mix", labels, 5).job(70), dmx::Error);
  EXPECT_THROW(make_plan("diff-mix", labels, 5).job(-1), dmx::Error);
}

TEST(SynthesisPlan, JobKDependsOnlyOnSeedAndK) {
  const auto labels = labels_with_counts({6, 2, 9, 4});
  for (const auto& strategy : synthesis_strategy_names()) {
    SCOPED_TRACE(strategy);
    SynthesisPlanOptions options;
    options.seed = 17;
    const auto plan = make_plan(strategy, labels, 4, options);
    std::vector<SynthesisJob> forward;
    for (int64_t k = 0; k < plan.size(); ++k) forward.push_back(plan.job(k));

    // Reverse order, a random order, and a fresh plan resuming half-way all give the same jobs.
    for (int64_t k = plan.size() - 1; k >= 0; --k) expect_same_job(plan.job(k), forward[static_cast<size_t>(k)]);
    std::vector<int64_t> shuffled(static_cast<size_t>(plan.size()));
    std::iota(shuffled.begin(), shuffled.end(), 0);
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(5));
    for (const int64_t k : shuffled) expect_same_job(plan.job(k), forward[static_cast<size_t>(k)]);
    const auto resumed = make_plan(strategy, labels, 4, options);
    for (int64_t k = plan.size() / 2; k < plan.size(); ++k)
      expect_same_job(resumed.job(k), forward[static_cast<size_t>(k)]);
  }
}

TEST(SynthesisPlan, AnotherSeedGivesOtherJobs) {
  const auto labels = labels_with_counts({10, 10, 10, 10});
  SynthesisPlanOptions a, b;
  b.seed = 1;
  const auto plan_a = make_plan("diff-mix", labels, 4, a), plan_b = make_plan("diff-mix", labels, 4, b);
  int64_t differ = 0;
  for (int64_t k = 0; k < plan_a.size(); ++k)
    differ += plan_a.job(k).reference_image != plan_b.job(k).reference_image;
  EXPECT_GT(differ, plan_a.size() / 2);
  std::set<uint64_t> seeds;
  for (int64_t k = 0; k < plan_a.size(); ++k) seeds.insert(plan_a.job(k).seed);
  EXPECT_EQ(static_cast<int64_t>(seeds.size()), plan_a.size());
  for (const uint64_t seed : seeds) EXPECT_LT(seed, uint64_t{1} << 63);
}

TEST(SynthesisPlan, DiffMixDrawsSourceAndTargetUniformlyAndIndependently) {
  constexpr int64_t kClasses = 8;
  // A skewed training set: the source class must still be uniform over classes, not over images.
  const auto labels = labels_with_counts({100, 60, 40, 30, 20, 10, 5, 5});
  SynthesisPlanOptions options;
  options.multiplier = 50;  // 13 500 jobs
  const auto plan = make_plan("diff-mix", labels, kClasses, options);
  std::vector<int64_t> sources(kClasses), targets(kClasses);
  std::map<double, int64_t> strengths;
  int64_t same = 0;
  for (int64_t k = 0; k < plan.size(); ++k) {
    const auto job = plan.job(k);
    ++sources[static_cast<size_t>(job.source_class)];
    ++targets[static_cast<size_t>(job.target_class)];
    ++strengths[job.strength];
    same += job.source_class == job.target_class;
    ASSERT_EQ(labels[static_cast<size_t>(job.reference_image)], job.source_class) << "job " << k;
  }
  for (int64_t c = 0; c < kClasses; ++c) {
    expect_binomial(sources[static_cast<size_t>(c)], plan.size(), 1.0 / kClasses, "source " + std::to_string(c));
    expect_binomial(targets[static_cast<size_t>(c)], plan.size(), 1.0 / kClasses, "target " + std::to_string(c));
  }
  expect_binomial(same, plan.size(), 1.0 / kClasses, "source == target");
  ASSERT_EQ(strengths.size(), 3u);
  for (const auto& [strength, count] : strengths) expect_binomial(count, plan.size(), 1.0 / 3, "strength");
}

TEST(SynthesisPlan, ReferenceImagesBelongToTheSourceClass) {
  const auto labels = labels_with_counts({7, 3, 12, 1, 5});
  for (const auto& strategy : synthesis_strategies()) {
    if (!strategy.uses_reference_image()) continue;
    SCOPED_TRACE(strategy.name);
    const auto plan = SynthesisPlan(strategy, labels, 5);
    std::set<int64_t> references;
    for (int64_t k = 0; k < plan.size(); ++k) {
      const auto job = plan.job(k);
      ASSERT_GE(job.reference_image, 0);
      ASSERT_LT(job.reference_image, static_cast<int64_t>(labels.size()));
      EXPECT_EQ(labels[static_cast<size_t>(job.reference_image)], job.source_class) << "job " << k;
      const auto& allowed = strategy.default_strengths;
      EXPECT_NE(std::find(allowed.begin(), allowed.end(), job.strength), allowed.end()) << job.strength;
      references.insert(job.reference_image);
    }
    EXPECT_GT(references.size(), labels.size() / 2);  // references spread over the training set
  }
}

TEST(SynthesisPlan, IntraClassStrategiesUseOneClassForReferenceAndPrompt) {
  const auto labels = labels_with_counts({4, 9, 2, 6});
  for (const char* strategy : {"real-aug", "da-fusion", "diff-aug"}) {
    SCOPED_TRACE(strategy);
    const auto plan = make_plan(strategy, labels, 4);
    std::set<int64_t> classes;
    for (int64_t k = 0; k < plan.size(); ++k) {
      const auto job = plan.job(k);
      EXPECT_EQ(job.source_class, job.target_class);
      EXPECT_EQ(job.soft_label[job.target_class].item<float>(), 1.0f);  // one-hot
      EXPECT_EQ(job.soft_label.sum().item<float>(), 1.0f);
      classes.insert(job.target_class);
    }
    EXPECT_EQ(classes.size(), 4u);
  }
}

TEST(SynthesisPlan, Txt2ImgStrategiesHaveNoReferenceAndFullStrength) {
  const auto labels = labels_with_counts({4, 9, 2, 6});
  for (const char* strategy : {"real-gen", "diff-gen"}) {
    SCOPED_TRACE(strategy);
    const auto plan = make_plan(strategy, labels, 4);
    EXPECT_EQ(plan.strengths(), std::vector<double>{1.0});
    std::vector<int64_t> per_class(4);
    for (int64_t k = 0; k < plan.size(); ++k) {
      const auto job = plan.job(k);
      EXPECT_EQ(job.reference_image, -1);
      EXPECT_EQ(job.source_class, job.target_class);
      EXPECT_EQ(job.strength, 1.0);
      ++per_class[static_cast<size_t>(job.target_class)];
    }
    for (const int64_t n : per_class) EXPECT_GT(n, 0);  // every class is generated
    SynthesisPlanOptions options;
    options.strengths = {0.5};
    EXPECT_THROW(make_plan(strategy, labels, 4, options), dmx::Error);
  }
}

TEST(SynthesisPlan, SoftLabelsFollowTheDiffMixFormula) {
  const auto labels = labels_with_counts({5, 5, 5});
  SynthesisPlanOptions options;
  options.gamma = 0.3;
  const auto plan = make_plan("real-mix", labels, 3, options);
  int64_t mixed = 0;
  for (int64_t k = 0; k < plan.size(); ++k) {
    const auto job = plan.job(k);
    // y = (1 − s^γ)·onehot(source) + s^γ·onehot(target), written out.
    std::vector<float> expected(3, 0.0f);
    if (job.source_class == job.target_class) {
      expected[static_cast<size_t>(job.source_class)] = 1.0f;
    } else {
      const double weight = std::pow(job.strength, 0.3);
      expected[static_cast<size_t>(job.source_class)] = static_cast<float>(1.0 - weight);
      expected[static_cast<size_t>(job.target_class)] = static_cast<float>(weight);
      ++mixed;
    }
    ASSERT_EQ(job.soft_label.sizes(), at::IntArrayRef({3}));
    for (int64_t c = 0; c < 3; ++c)
      EXPECT_NEAR(job.soft_label[c].item<float>(), expected[static_cast<size_t>(c)], 1e-6) << "job " << k;
  }
  EXPECT_GT(mixed, 0);
}

TEST(SynthesisPlan, AFixedStrengthIsUsedForEveryJob) {
  const auto labels = labels_with_counts({5, 5, 5});
  SynthesisPlanOptions options;
  options.strengths = {0.7};
  const auto plan = make_plan("diff-mix", labels, 3, options);
  for (int64_t k = 0; k < plan.size(); ++k) EXPECT_EQ(plan.job(k).strength, 0.7);
}

TEST(SynthesisPlan, RecordsCarryTheJobAndOptionallyItsLabel) {
  const auto plan = make_plan("diff-mix", labels_with_counts({5, 5, 5}), 3);
  const auto job = plan.job(4);
  const auto record = to_record(job);
  EXPECT_EQ(record.source_class, job.source_class);
  EXPECT_EQ(record.target_class, job.target_class);
  EXPECT_EQ(record.strength, job.strength);
  EXPECT_EQ(record.seed, job.seed);
  EXPECT_TRUE(record.soft_label.empty());
  const auto stored = to_record(job, true);
  ASSERT_EQ(stored.soft_label.size(), 3u);
  for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(stored.soft_label[static_cast<size_t>(c)], job.soft_label[c].item<float>());
}

TEST(SynthesisPlan, ReversedCountsMirrorTheClassRanking) {
  // Counts by class index; ranked: class 1 (40), 3 (20), 4 (10), 0 (5), 2 (2). The mirror gives class 1 the count
  // of class 2 (2), class 3 that of class 0 (5), class 4 its own (10), class 0 that of class 3 (20), class 2 that
  // of class 1 (40).
  const std::vector<int64_t> counts = {5, 40, 2, 20, 10};
  const auto p = reversed_count_probabilities(counts);
  const std::vector<double> expected = {20.0 / 77, 2.0 / 77, 40.0 / 77, 5.0 / 77, 10.0 / 77};
  ASSERT_EQ(p.size(), expected.size());
  for (size_t c = 0; c < p.size(); ++c) EXPECT_NEAR(p[c], expected[c], 1e-12) << "class " << c;

  // Classes that may not be drawn get nothing; the rest is renormalised.
  const auto q = reversed_count_probabilities(counts, {true, true, false, true, true});
  EXPECT_EQ(q[2], 0.0);
  EXPECT_NEAR(q[0], 20.0 / 37, 1e-12);
  EXPECT_THROW(reversed_count_probabilities(counts, {true, false}), dmx::Error);
}

TEST(SynthesisPlan, LongTailBalancingMakesMoreSamplesForTailClasses) {
  const std::vector<int64_t> counts = {5, 40, 2, 20, 10};
  const auto labels = labels_with_counts(counts);
  SynthesisPlanOptions options;
  options.multiplier = 40;  // 3 080 jobs
  options.target_classes = TargetClasses::ReversedCounts;
  for (const char* strategy : {"diff-mix", "diff-aug", "diff-gen"}) {
    SCOPED_TRACE(strategy);
    const auto plan = make_plan(strategy, labels, 5, options);
    const auto expected = reversed_count_probabilities(counts);
    EXPECT_EQ(plan.target_class_probabilities(), expected);
    std::vector<int64_t> targets(5), sources(5);
    for (int64_t k = 0; k < plan.size(); ++k) {
      const auto job = plan.job(k);
      ++targets[static_cast<size_t>(job.target_class)];
      ++sources[static_cast<size_t>(job.source_class)];
      if (job.reference_image >= 0) EXPECT_EQ(labels[static_cast<size_t>(job.reference_image)], job.source_class);
    }
    for (size_t c = 0; c < 5; ++c) expect_binomial(targets[c], plan.size(), expected[c], "target " + std::to_string(c));
    EXPECT_GT(targets[2], targets[1]);  // the rarest class gets the most, the commonest the fewest
    // Mix: references are uniform over all training images, so sources follow the real counts.
    if (std::string(strategy) == "diff-mix")
      for (size_t c = 0; c < 5; ++c) expect_binomial(sources[c], plan.size(), counts[c] / 77.0, "source");
  }
}

TEST(SynthesisPlan, ClassesWithoutImagesAreNeverReferences) {
  const auto labels = labels_with_counts({4, 0, 6});
  for (const char* strategy : {"diff-aug", "diff-mix"}) {
    SCOPED_TRACE(strategy);
    const auto plan = make_plan(strategy, labels, 3);
    bool class_1_is_target = false;
    for (int64_t k = 0; k < plan.size(); ++k) {
      const auto job = plan.job(k);
      EXPECT_NE(job.source_class, 1);
      class_1_is_target |= job.target_class == 1;
    }
    // A Mix may still translate toward the image-less class; an Aug cannot.
    EXPECT_EQ(class_1_is_target, std::string(strategy) == "diff-mix");
  }
}

TEST(SynthesisPlan, BadOptionsAreInvalidArguments) {
  const auto labels = labels_with_counts({2, 2});
  const auto expect_invalid = [&](const std::string& strategy, std::vector<int64_t> l, SynthesisPlanOptions o,
                                  const std::string& fragment) {
    try {
      make_plan(strategy, l, 2, o);
      FAIL() << "expected an error mentioning " << fragment;
    } catch (const dmx::Error& e) {
      EXPECT_EQ(e.category(), dmx::ErrorCategory::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  SynthesisPlanOptions options;
  expect_invalid("diff-mix", {0, 2}, options, "class 2 outside [0, 2)");
  expect_invalid("diff-mix", {}, options, "empty");
  options.multiplier = 0;
  expect_invalid("diff-mix", labels, options, "multiplier 0");
  options = {};
  options.strengths = {0.5, 0.0};
  expect_invalid("diff-mix", labels, options, "strength 0 outside (0, 1]");
  options.strengths = {1.5};
  expect_invalid("diff-aug", labels, options, "strength 1.5 outside (0, 1]");
  options = {};
  options.gamma = 0.0;
  expect_invalid("diff-mix", labels, options, "gamma 0 must be > 0");
}

}  // namespace
