// CutMix and Mixup through their .so files: labels stay distributions, CutMix weights equal pasted areas, Mixup
// mixes images and labels in the same proportion, and the randomness is a function of (seed, step).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "../common/test_env.hpp"
#include "diffmix/config.hpp"
#include "diffmix/error.hpp"
#include "diffmix/registry.hpp"

namespace {

constexpr int64_t kClasses = 6;
constexpr int64_t kBatch = 8;

class BatchMixing : public ::testing::Test {
 protected:
  BatchMixing() : registry_(options()) {}

  static dmx::RegistryOptions options() {
    dmx::RegistryOptions o;
    o.search_paths = {dmx::test::plugin_dir()};
    o.use_environment = false;
    o.use_install_dir = false;
    return o;
  }

  std::shared_ptr<dmx::BatchAugmenter> make(const std::string& toml, uint64_t seed = 7) {
    const auto doc = dmx::config::Document::parse_string(toml, "test.toml");
    return registry_.create_batch_augmenter(doc.root().required_string("augmenter"), doc.root(), {kClasses, seed});
  }

  // Image i is filled with the value i, so every output pixel tells which input it came from.
  static dmx::Batch tagged_batch() {
    auto images = at::arange(kBatch, at::kFloat).view({kBatch, 1, 1, 1}).expand({kBatch, 3, 16, 20}).contiguous();
    auto labels = dmx::one_hot(at::arange(kBatch) % kClasses, kClasses);
    return {images, labels};
  }

  dmx::PluginRegistry registry_;
};

TEST_F(BatchMixing, CutMixLabelWeightEqualsThePastedArea) {
  auto cutmix = make("augmenter = \"cutmix\"\nalpha = 1.0\nprob = 1.0\n");
  const auto in = tagged_batch();
  int mixed_batches = 0;
  for (uint64_t step = 0; step < 20; ++step) {
    const auto out = cutmix->apply(in, step);
    for (int64_t i = 0; i < kBatch; ++i) {
      const int64_t partner = (i + kBatch - 1) % kBatch;  // roll by one
      const double pasted = out.images[i].eq(static_cast<double>(partner)).to(at::kDouble).mean().item<double>();
      const double kept = out.images[i].eq(static_cast<double>(i)).to(at::kDouble).mean().item<double>();
      EXPECT_NEAR(pasted + kept, 1.0, 1e-9);
      const auto expected = in.labels[i] * kept + in.labels[partner] * pasted;
      EXPECT_TRUE(at::allclose(out.labels[i], expected, 1e-6, 1e-6)) << "step " << step << " sample " << i;
      if (pasted > 0) ++mixed_batches;
    }
  }
  EXPECT_GT(mixed_batches, 0);
}

TEST_F(BatchMixing, LabelMassStaysOneAndComposesWithSoftLabels) {
  auto cutmix = make("augmenter = \"cutmix\"\nalpha = 1.0\nprob = 1.0\n");
  auto mixup = make("augmenter = \"mixup\"\nalpha = 0.4\nprob = 1.0\n");
  // Diff-Mix style soft labels: (1 - s^g) onehot(j) + s^g onehot(i).
  const double w = std::pow(0.7, 0.5);
  auto labels = dmx::one_hot(at::arange(kBatch) % kClasses, kClasses) * (1 - w) +
                dmx::one_hot((at::arange(kBatch) + 1) % kClasses, kClasses) * w;
  dmx::Batch batch{at::randn({kBatch, 3, 16, 16}), labels};
  for (uint64_t step = 0; step < 10; ++step) {
    batch = mixup->apply(cutmix->apply(batch, step), step);
    EXPECT_TRUE(at::allclose(batch.labels.sum(1), at::ones({kBatch}), 1e-5, 1e-5));
    EXPECT_GE(batch.labels.min().item<float>(), 0.0f);
  }
}

TEST_F(BatchMixing, MixupMixesImagesAndLabelsInTheSameProportion) {
  auto mixup = make("augmenter = \"mixup\"\nalpha = 1.0\nprob = 1.0\n");
  const auto in = tagged_batch();
  const auto out = mixup->apply(in, 3);
  for (int64_t i = 0; i < kBatch; ++i) {
    const int64_t partner = (i + kBatch - 1) % kBatch;
    // pixel = lambda * i + (1 - lambda) * partner
    const double pixel = out.images[i][0][0][0].item<double>();
    const double lambda = (pixel - partner) / static_cast<double>(i - partner);
    const auto expected = in.labels[i] * lambda + in.labels[partner] * (1 - lambda);
    EXPECT_TRUE(at::allclose(out.labels[i], expected, 1e-5, 1e-5)) << i;
  }
}

TEST_F(BatchMixing, SameSeedAndStepGiveTheSameBatch) {
  auto a = make("augmenter = \"cutmix\"\n", 11);
  auto b = make("augmenter = \"cutmix\"\n", 11);
  const auto in = tagged_batch();
  EXPECT_TRUE(at::equal(a->apply(in, 5).images, b->apply(in, 5).images));
  bool any_difference = false;
  for (uint64_t step = 0; step < 5 && !any_difference; ++step)
    any_difference = !at::equal(a->apply(in, step).images, a->apply(in, step + 1).images);
  EXPECT_TRUE(any_difference);
}

TEST_F(BatchMixing, ProbabilityZeroLeavesTheBatchUnchanged) {
  auto mixup = make("augmenter = \"mixup\"\nprob = 0.0\n");
  const auto in = tagged_batch();
  const auto out = mixup->apply(in, 1);
  EXPECT_TRUE(at::equal(out.images, in.images));
  EXPECT_TRUE(at::equal(out.labels, in.labels));
}

TEST_F(BatchMixing, ProbabilityIsTheFractionOfBatchesMixed) {
  auto cutmix = make("augmenter = \"cutmix\"\nprob = 0.5\n");
  const auto in = tagged_batch();
  int mixed = 0;
  const int trials = 400;
  for (int step = 0; step < trials; ++step) mixed += at::equal(cutmix->apply(in, step).labels, in.labels) ? 0 : 1;
  // Binomial(400, 0.5): mean 200, sd 10. Box areas of zero are rare, so 5 sd covers them.
  EXPECT_NEAR(mixed, 200, 50);
}

TEST_F(BatchMixing, WrongLabelWidthIsAShapeError) {
  auto cutmix = make("augmenter = \"cutmix\"\nnum_classes = 6\n");
  try {
    cutmix->apply({at::zeros({4, 3, 8, 8}), at::full({4, 5}, 0.2)}, 0);
    FAIL();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Shape);
    EXPECT_NE(std::string(e.what()).find("num_classes = 6"), std::string::npos) << e.what();
  }
}

TEST_F(BatchMixing, NonPositiveAlphaIsAConfigError) {
  EXPECT_THROW(make("augmenter = \"mixup\"\nalpha = 0.0\n"), dmx::Error);
}

}  // namespace
