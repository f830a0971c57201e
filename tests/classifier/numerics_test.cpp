// Loss, label smoothing, learning-rate schedule, optimizer and accuracy: the numbers the trainer relies on.
#include <gtest/gtest.h>
#include <torch/optim/sgd.h>

#include <cmath>

#include "diffmix/classifier/accuracy.hpp"
#include "diffmix/classifier/loss.hpp"
#include "diffmix/classifier/lr_schedule.hpp"
#include "diffmix/classifier/paired_difference.hpp"
#include "diffmix/classifier/sgd.hpp"
#include "diffmix/error.hpp"
#include "common/relative_error.hpp"

namespace dmx::classifier {
namespace {

using test::relative_error;

// ε = 0.1, PyTorch's meaning: the paper's confidence 0.9.
TEST(LabelSmoothing, OneTenthGivesTheKnownRows) {
  const at::Tensor labels = at::tensor({0.f, 1.f, 0.f, 0.f}).reshape({1, 4});
  const at::Tensor smoothed = smooth_labels(labels, 0.1);
  // 0.9·y + 0.1/4
  EXPECT_NEAR(smoothed[0][1].item<double>(), 0.925, 1e-6);
  EXPECT_NEAR(smoothed[0][0].item<double>(), 0.025, 1e-6);
  EXPECT_NEAR(smoothed.sum().item<double>(), 1.0, 1e-6);
  EXPECT_TRUE(at::equal(smooth_labels(labels, 0.0), labels));
  EXPECT_THROW(smooth_labels(labels, -0.1), Error);
  EXPECT_THROW(smooth_labels(labels, 1.5), Error);
}

TEST(SoftCrossEntropy, MatchesLibTorchCrossEntropyWithLabelSmoothing) {
  at::manual_seed(3);
  const at::Tensor logits = at::randn({6, 5});
  const at::Tensor classes = at::tensor({0, 4, 2, 2, 1, 3}, at::kLong);
  const at::Tensor soft = smooth_labels(at::one_hot(classes, 5).to(at::kFloat), 0.1);
  const at::Tensor ours = soft_cross_entropy(logits, soft);
  const at::Tensor reference = at::cross_entropy_loss(logits, classes, {}, at::Reduction::Mean, -100, 0.1);
  EXPECT_LT(relative_error(ours, reference), 1e-6);
}

TEST(SoftCrossEntropy, OfAMixedLabelIsTheMixOfTheLosses) {
  at::manual_seed(4);
  const at::Tensor logits = at::randn({1, 3});
  const at::Tensor a = at::tensor({1.f, 0.f, 0.f}).reshape({1, 3});
  const at::Tensor b = at::tensor({0.f, 0.f, 1.f}).reshape({1, 3});
  const double mixed = soft_cross_entropy(logits, a * 0.3 + b * 0.7).item<double>();
  const double expected = 0.3 * soft_cross_entropy(logits, a).item<double>() +
                          0.7 * soft_cross_entropy(logits, b).item<double>();
  EXPECT_NEAR(mixed, expected, 1e-5);
}

TEST(SoftCrossEntropy, ShapeMismatchNamesBothShapes) {
  try {
    soft_cross_entropy(at::zeros({2, 3}), at::zeros({2, 4}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Shape);
    EXPECT_NE(std::string(e.what()).find("[2, 4]"), std::string::npos) << e.what();
  }
}

TEST(CosineWarmupSchedule, RampsLinearlyThenFollowsTheCosine) {
  const CosineWarmupSchedule schedule(0.1, /*total=*/110, /*warmup=*/10, /*final=*/0.0);
  EXPECT_NEAR(schedule.lr(0), 0.01, 1e-12);
  EXPECT_NEAR(schedule.lr(4), 0.05, 1e-12);
  EXPECT_NEAR(schedule.lr(9), 0.1, 1e-12);
  EXPECT_NEAR(schedule.lr(10), 0.1, 1e-12);                // cosine starts at the base rate
  EXPECT_NEAR(schedule.lr(60), 0.05, 1e-12);               // half-way: (1 + cos(π/2)) / 2
  EXPECT_NEAR(schedule.lr(35), 0.1 * 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-12);
  EXPECT_NEAR(schedule.lr(109), 0.1 * 0.5 * (1 + std::cos(M_PI * 99.0 / 100.0)), 1e-12);
}

TEST(CosineWarmupSchedule, WithoutWarmupStartsAtTheBaseRateAndDecaysToTheFinalRate) {
  const CosineWarmupSchedule schedule(0.02, 5, 0, 0.002);
  EXPECT_NEAR(schedule.lr(0), 0.02, 1e-12);
  EXPECT_NEAR(schedule.lr(4), 0.002 + 0.018 * 0.5 * (1 + std::cos(M_PI * 0.8)), 1e-12);
  EXPECT_THROW(CosineWarmupSchedule(0.1, 10, 11), Error);
  EXPECT_THROW(CosineWarmupSchedule(0.1, 0, 0), Error);
}

TEST(MomentumSgd, ComputesWhatTorchOptimSgdComputes) {
  at::manual_seed(5);
  const at::Tensor start = at::randn({4, 3});
  at::Tensor ours = start.clone().set_requires_grad(true);
  at::Tensor theirs = start.clone().set_requires_grad(true);
  MomentumSgd sgd({{"w", ours}}, {0.9, 5e-5});
  torch::optim::SGD reference({theirs}, torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(5e-5));
  for (int step = 0; step < 4; ++step) {
    const at::Tensor target = at::full({4, 3}, static_cast<double>(step));
    sgd.zero_grad();
    (ours - target).pow(2).sum().backward();
    sgd.step(0.05);
    reference.zero_grad();
    (theirs - target).pow(2).sum().backward();
    reference.step();
  }
  EXPECT_LT(relative_error(ours.detach(), theirs.detach()), 1e-6);
  EXPECT_EQ(sgd.momentum_buffers().size(), 1u);
}

TEST(MomentumSgd, RefusesABufferOfAnotherShape) {
  at::Tensor w = at::zeros({2, 2}).set_requires_grad(true);
  MomentumSgd sgd({{"layer.weight", w}}, {});
  EXPECT_THROW(sgd.load_momentum_buffers({{"layer.weight", at::zeros({3})}}), Error);
  EXPECT_THROW(sgd.load_momentum_buffers({{"other", at::zeros({2, 2})}}), Error);
  EXPECT_NO_THROW(sgd.load_momentum_buffers({{"layer.weight", at::ones({2, 2})}}));
}

TEST(AccuracyCounter, CountsOverallAndPerClass) {
  AccuracyCounter counter(3);
  // Predictions: 0, 1, 1, 2; truths: 0, 1, 0, 2 (class 0 half right).
  const at::Tensor logits = at::tensor({5.f, 0.f, 0.f, 0.f, 5.f, 0.f, 0.f, 5.f, 0.f, 0.f, 0.f, 5.f}).reshape({4, 3});
  counter.add(logits, at::tensor({0, 1, 0, 2}, at::kLong));
  EXPECT_DOUBLE_EQ(counter.top1(), 0.75);
  const auto per_class = counter.per_class();
  EXPECT_DOUBLE_EQ(per_class[0], 0.5);
  EXPECT_DOUBLE_EQ(per_class[1], 1.0);
  EXPECT_DOUBLE_EQ(per_class[2], 1.0);
  EXPECT_NEAR(counter.mean_per_class(), 2.5 / 3, 1e-12);
  // Soft-label targets count by their argmax.
  counter.add(logits.slice(0, 0, 1), at::tensor({0.1f, 0.8f, 0.1f}).reshape({1, 3}));
  EXPECT_DOUBLE_EQ(counter.top1(), 0.6);
  EXPECT_THROW(counter.add(logits, at::tensor({0, 1, 7, 2}, at::kLong)), Error);
}

TEST(AccuracyCounter, AClassNeverSeenHasNoAccuracy) {
  AccuracyCounter counter(2);
  counter.add(at::tensor({1.f, 0.f}).reshape({1, 2}), at::tensor({0}, at::kLong));
  EXPECT_TRUE(std::isnan(counter.per_class()[1]));
  EXPECT_DOUBLE_EQ(counter.mean_per_class(), 1.0);
}

// Set-up minus baseline over paired seeds: d = {0.02, 0.02, 0.01}, mean 1/60, standard error 0.01/3, t(2) = 4.303.
TEST(PairedDifference, IsTheStudentIntervalOfThePerSeedDifferences) {
  const PairedDifference d = paired_difference({0.80, 0.82, 0.81}, {0.78, 0.80, 0.80});
  EXPECT_EQ(d.pairs, 3);
  EXPECT_NEAR(d.mean, 1.0 / 60.0, 1e-12);
  EXPECT_NEAR(d.low, 1.0 / 60.0 - 4.303 * 0.01 / 3.0, 1e-12);
  EXPECT_NEAR(d.high, 1.0 / 60.0 + 4.303 * 0.01 / 3.0, 1e-12);
  EXPECT_TRUE(d.excludes_zero());

  const PairedDifference noise = paired_difference({0.81, 0.79}, {0.80, 0.80});  // d = {+0.01, -0.01}
  EXPECT_NEAR(noise.low, -12.706 * 0.01, 1e-12);
  EXPECT_FALSE(noise.excludes_zero());

  const PairedDifference one = paired_difference({0.9}, {0.8, 0.7});  // pairs only as far as both go
  EXPECT_EQ(one.pairs, 1);
  EXPECT_NEAR(one.mean, 0.1, 1e-12);
  EXPECT_TRUE(std::isnan(one.low));
  EXPECT_FALSE(one.excludes_zero());
}

// Student's t quantiles: the table, then the expansion (exact values from R's qt(0.975, df)).
TEST(PairedDifference, StudentQuantiles) {
  EXPECT_DOUBLE_EQ(student_t_975(1), 12.706);
  EXPECT_DOUBLE_EQ(student_t_975(30), 2.042);
  EXPECT_NEAR(student_t_975(31), 2.039513, 1e-3);
  EXPECT_NEAR(student_t_975(60), 2.000298, 1e-3);
  EXPECT_NEAR(student_t_975(1000), 1.962339, 1e-3);
  EXPECT_THROW(student_t_975(0), Error);
}

// Accuracy by group (Waterbirds' bird × place), on known predictions.
TEST(AccuracyCounter, CountsEachGroupInTheOrderSamplesArrive) {
  const std::vector<int64_t> group_of = {0, 1, 1, 0, 2};
  AccuracyCounter counter(2, &group_of, 3);
  // Predictions: class 1, 0, 1, 1 | 0 (two batches); targets 1, 0, 0, 0 | 0.
  counter.add(at::tensor({0.f, 1.f, 1.f, 0.f, 0.f, 1.f, 0.f, 1.f}).reshape({4, 2}), at::tensor({1, 0, 0, 0}));
  counter.add(at::tensor({1.f, 0.f}).reshape({1, 2}), at::tensor({0}));
  EXPECT_EQ(counter.per_group(), (std::vector<double>{0.5, 0.5, 1.0}));  // group 0: hit, miss; 1: hit, miss; 2: hit
  EXPECT_EQ(counter.group_seen(), (std::vector<int64_t>{2, 2, 1}));
  EXPECT_DOUBLE_EQ(counter.top1(), 0.6);
  // A sixth sample has no group.
  EXPECT_THROW(counter.add(at::tensor({1.f, 0.f}).reshape({1, 2}), at::tensor({0})), Error);
}

}  // namespace
}  // namespace dmx::classifier
