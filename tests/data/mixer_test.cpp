// The Mixer: replacement rate within a binomial bound, uniform and SYNAuG-balanced choices, soft labels.
#include <gtest/gtest.h>

#include <cmath>

#include "data_test_files.hpp"
#include "diffmix/data/mixer.hpp"
#include "diffmix/error.hpp"
#include "memory_dataset.hpp"

namespace {

using dmx::data::Mixer;
using dmx::data::MixerOptions;
using dmx::data::MixMode;
using dmx::data::SyntheticCache;
using dmx::data::SyntheticRecord;

// A cache whose records point nowhere: enough for choose(), which never decodes.
std::shared_ptr<SyntheticCache> records_only_cache(int64_t num_classes, int64_t per_target) {
  std::vector<SyntheticRecord> records;
  for (int64_t target = 0; target < num_classes; ++target)
    for (int64_t i = 0; i < per_target; ++i) {
      SyntheticRecord r;
      r.path = "images/none.png";
      r.source_class = (target + 1) % num_classes;
      r.target_class = target;
      r.strength = 0.7;
      records.push_back(r);
    }
  return std::make_shared<SyntheticCache>("memory-cache", num_classes, std::move(records), 0.5);
}

TEST(Mixer, PaperReplacementProbabilities) {
  EXPECT_DOUBLE_EQ(dmx::data::default_replacement_probability(1), 0.5);
  EXPECT_DOUBLE_EQ(dmx::data::default_replacement_probability(5), 0.3);
  EXPECT_DOUBLE_EQ(dmx::data::default_replacement_probability(10), 0.2);
  EXPECT_DOUBLE_EQ(dmx::data::default_replacement_probability(0), 0.1);
}

TEST(Mixer, ReplacementRateIsWithinABinomialBound) {
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>(10, 2000));
  const auto cache = records_only_cache(10, 3);
  for (const double p : {0.1, 0.3, 0.5}) {
    MixerOptions options;
    options.probability = p;
    options.seed = 5;
    const Mixer mixer(real, cache, options);
    for (const uint64_t epoch : {0u, 1u}) {
      int64_t replaced = 0;
      std::vector<int64_t> chosen(static_cast<size_t>(cache->size()), 0);
      for (int64_t i = 0; i < mixer.size(); ++i) {
        const auto choice = mixer.choose(i, epoch);
        if (!choice.synthetic) {
          EXPECT_EQ(choice.index, i);
          continue;
        }
        ++replaced;
        ++chosen.at(static_cast<size_t>(choice.index));
      }
      const double n = static_cast<double>(mixer.size());
      const double sigma = std::sqrt(n * p * (1 - p));
      EXPECT_NEAR(static_cast<double>(replaced), n * p, 5 * sigma) << "p " << p << " epoch " << epoch;
      // Uniform over the cache: each of the 30 samples within 5σ of its expected count.
      const double per_sample = static_cast<double>(replaced) / static_cast<double>(chosen.size());
      for (const int64_t c : chosen) EXPECT_NEAR(static_cast<double>(c), per_sample, 5 * std::sqrt(per_sample));
    }
  }
}

TEST(Mixer, ChoicesArePureFunctionsOfSeedEpochAndIndex) {
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>(4, 100));
  const auto cache = records_only_cache(4, 5);
  MixerOptions options;
  options.probability = 0.5;
  const Mixer a(real, cache, options), b(real, cache, options);
  int differs_by_epoch = 0;
  for (int64_t i = 0; i < real->size(); ++i) {
    EXPECT_EQ(a.choose(i, 3).synthetic, b.choose(i, 3).synthetic);
    EXPECT_EQ(a.choose(i, 3).index, b.choose(i, 3).index);
    differs_by_epoch += a.choose(i, 3).synthetic != a.choose(i, 4).synthetic;
  }
  EXPECT_GT(differs_by_epoch, 100);
}

// Counts, over `epochs` epochs, the synthetic replacements per target class and expects them to follow `expected`
// (class shares) within 5 standard deviations; returns how many replacements there were.
double replacements_per_target(const Mixer& mixer, const SyntheticCache& cache, uint64_t epochs,
                               const std::vector<double>& expected) {
  std::vector<double> drawn(expected.size(), 0.0);
  double total = 0;
  for (uint64_t epoch = 0; epoch < epochs; ++epoch)
    for (int64_t i = 0; i < mixer.size(); ++i) {
      const auto choice = mixer.choose(i, epoch);
      if (!choice.synthetic) continue;
      drawn[static_cast<size_t>(cache.record(choice.index).target_class)] += 1;
      total += 1;
    }
  for (size_t c = 0; c < expected.size(); ++c)
    EXPECT_NEAR(drawn[c], total * expected[c], 5 * std::sqrt(total * expected[c] * (1 - expected[c]))) << c;
  return total;
}

TEST(Mixer, BalancedModeMirrorsTheRealClassDistribution) {
  // Real counts 100, 50, 20, 10, 5 (a long tail): synthetic target classes get 5, 10, 20, 50, 100 shares.
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{100, 50, 20, 10, 5});
  const auto cache = records_only_cache(5, 4);
  MixerOptions options;
  options.mode = MixMode::Balanced;
  options.probability = dmx::data::kBalancedReplacementProbability;
  const Mixer mixer(real, cache, options);
  const std::vector<double> expected = {5 / 185.0, 10 / 185.0, 20 / 185.0, 50 / 185.0, 100 / 185.0};
  for (size_t c = 0; c < expected.size(); ++c) EXPECT_NEAR(mixer.target_class_weights(cache->size())[c], expected[c], 1e-12);

  const double n = 200.0 * static_cast<double>(mixer.size());
  EXPECT_NEAR(replacements_per_target(mixer, *cache, 200, expected), n * 0.5, 5 * std::sqrt(n * 0.25));
}

TEST(Mixer, BalancedModeDoesNotEvenTheClassesOut) {
  // Per epoch at p = 0.5: half of each class stays real, and the 92.5 synthetic draws follow the mirror.
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{100, 50, 20, 10, 5});
  const auto cache = records_only_cache(5, 4);
  MixerOptions options;
  options.mode = MixMode::Balanced;
  options.probability = 0.5;
  const Mixer mixer(real, cache, options);
  const auto weights = mixer.target_class_weights(cache->size());
  const std::vector<double> real_counts = {100, 50, 20, 10, 5}, expected = {52.5, 30, 20, 30, 52.5};
  for (size_t c = 0; c < 5; ++c) EXPECT_NEAR(0.5 * real_counts[c] + 0.5 * 185 * weights[c], expected[c], 1e-9) << c;
}

TEST(Mixer, InverseModeWeightsClassesAsTheAuthorsCode) {
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{100, 50, 20, 10, 5});
  const auto cache = records_only_cache(5, 4);
  MixerOptions options;
  options.mode = MixMode::Inverse;
  options.probability = dmx::data::kBalancedReplacementProbability;
  const Mixer mixer(real, cache, options);
  std::vector<double> expected = {1 / 101.0, 1 / 51.0, 1 / 21.0, 1 / 11.0, 1 / 6.0};
  double total = 0;
  for (const double w : expected) total += w;
  for (double& w : expected) w /= total;
  for (size_t c = 0; c < expected.size(); ++c) EXPECT_NEAR(mixer.target_class_weights(cache->size())[c], expected[c], 1e-12);

  replacements_per_target(mixer, *cache, 200, expected);
}

// A cache folder holding one sample: `picture` (12×10, pattern 7) moved from `source` to `target` at `strength`.
void write_one_sample_cache(const std::string& folder, int64_t source, int64_t target, double strength) {
  dmx::data::SyntheticCacheWriter writer(folder);
  SyntheticRecord r;
  r.source_class = source;
  r.target_class = target;
  r.strength = strength;
  writer.add(dmx::test::test_picture(12, 10, 7), r);
}

TEST(Mixer, RealSamplesGetOneHotLabelsAndSyntheticOnesTheirSoftLabel) {
  dmx::test::TempDir dir;
  write_one_sample_cache(dir / "cache", 0, 2, 0.5);
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{10, 10, 10});
  MixerOptions options;
  options.probability = 0.5;
  const Mixer mixer(real, SyntheticCache::open(dir / "cache", 3), options);
  int synthetic = 0, genuine = 0;
  for (int64_t i = 0; i < mixer.size(); ++i) {
    const auto sample = mixer.get(i, 0);
    if (sample.synthetic) {
      ++synthetic;
      EXPECT_TRUE(sample.label.equal(dmx::data::diffmix_soft_label(0, 2, 0.5, 3)));
      EXPECT_TRUE(sample.image.equal(dmx::test::test_picture(12, 10, 7)));
    } else {
      ++genuine;
      EXPECT_EQ(sample.label.argmax().item<int64_t>(), real->label(i));
      EXPECT_FLOAT_EQ(sample.label.sum().item<float>(), 1.0f);
    }
  }
  EXPECT_GT(synthetic, 0);
  EXPECT_GT(genuine, 0);
}

// [synthetic] soft_scaler: the authors' code scales synthetic labels of the fine-grained sets to sum to 0.9; real
// labels stay one-hot.
TEST(Mixer, ScalesSyntheticLabelsOnly) {
  dmx::test::TempDir dir;
  write_one_sample_cache(dir / "cache", 1, 0, 0.7);
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{10, 10, 10});
  MixerOptions options;
  options.probability = 0.5;
  options.synthetic_label_scale = 0.9;
  const Mixer mixer(real, SyntheticCache::open(dir / "cache", 3), options);
  int synthetic = 0;
  for (int64_t i = 0; i < mixer.size(); ++i) {
    const auto sample = mixer.get(i, 0);
    if (sample.synthetic) {
      ++synthetic;
      EXPECT_TRUE(sample.label.allclose(dmx::data::diffmix_soft_label(1, 0, 0.7, 3) * 0.9));
      EXPECT_NEAR(sample.label.sum().item<float>(), 0.9f, 1e-6f);
    } else {
      EXPECT_FLOAT_EQ(sample.label.sum().item<float>(), 1.0f);
    }
  }
  EXPECT_GT(synthetic, 0);
}

TEST(Mixer, RejectsMismatchedClassesAndBadProbability) {
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{2, 2});
  EXPECT_THROW(Mixer(real, records_only_cache(3, 1)), dmx::Error);
  MixerOptions options;
  options.probability = 1.5;
  EXPECT_THROW(Mixer(real, nullptr, options), dmx::Error);
  const Mixer no_cache(real, nullptr);
  EXPECT_FALSE(no_cache.choose(1, 0).synthetic);
}

// A growing pool: the choice depends on how many samples exist, and on nothing else.
TEST(Mixer, AnEmptyPoolReplacesNothing) {
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{50, 50});
  MixerOptions options;
  options.probability = 1.0;
  const Mixer mixer(real, records_only_cache(2, 10), options);
  for (int64_t i = 0; i < mixer.size(); ++i) {
    EXPECT_FALSE(mixer.choose(i, 0, 0).synthetic);
    EXPECT_TRUE(mixer.choose(i, 0, 1).synthetic);
  }
}

TEST(Mixer, ChoicesFromTheFirstNSamplesStayAmongThem) {
  auto real = std::make_shared<dmx::test::MemoryDataset>(std::vector<int64_t>{100, 20});
  for (const MixMode mode : {MixMode::Uniform, MixMode::Balanced}) {
    MixerOptions options;
    options.probability = 0.5;
    options.mode = mode;
    const auto cache = records_only_cache(2, 10);  // targets 0 (samples 0-9), then 1 (samples 10-19)
    const Mixer mixer(real, cache, options);
    int64_t synthetic = 0;
    for (int64_t i = 0; i < mixer.size(); ++i) {
      const auto choice = mixer.choose(i, 2, 7);
      if (!choice.synthetic) continue;
      ++synthetic;
      EXPECT_LT(choice.index, 7);
      // The same (seed, epoch, index, pool size) gives the same choice from another Mixer.
      const Mixer again(real, cache, options);
      EXPECT_EQ(again.choose(i, 2, 7).index, choice.index);
    }
    EXPECT_GT(synthetic, 30);
    // The whole cache as the pool size is what choose(index, epoch) uses for a cache.
    for (int64_t i = 0; i < mixer.size(); ++i) EXPECT_EQ(mixer.choose(i, 5).index, mixer.choose(i, 5, 20).index);
  }
  // Balanced weights only count classes present among the first n samples.
  MixerOptions balanced;
  balanced.mode = MixMode::Balanced;
  const Mixer mixer(real, records_only_cache(2, 10), balanced);
  EXPECT_EQ(mixer.target_class_weights(7), (std::vector<double>{1.0, 0.0}));
  EXPECT_NEAR(mixer.target_class_weights(20)[1], 100.0 / 120.0, 1e-12);
}

}  // namespace
