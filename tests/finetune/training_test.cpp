// The training step: only the new embedding rows change, the loss falls on a fixed batch, AdamW matches its formula.
#include "diffmix/sd_finetune/finetuner.hpp"

#include "diffmix/error.hpp"
#include "finetune/finetune_fixtures.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

namespace dmx::finetune {
namespace {

using test::fixed_batch;
using test::kBirdClasses;

TEST(FinetuneTraining, OnlyTheNewEmbeddingRowsChange) {
  auto settings = test::tiny_settings(Strategy::TextualInversion);
  settings.learning_rate = 1e-2;
  Finetuner tuner(test::tiny_model_dir(), settings, kBirdClasses, "bird", 0);
  const auto table_before = tuner.text_encoder().token_embedding().clone();
  const auto base_rows = table_before.size(0) - static_cast<int64_t>(kBirdClasses.size());
  // New rows start as copies of the initializer token's row.
  const auto initializer_id = tuner.tokenizer().encode("photo")[1];
  for (int64_t k = 0; k < 3; ++k) EXPECT_TRUE(at::equal(table_before[base_rows + k], table_before[initializer_id]));

  for (int step = 0; step < 3; ++step) tuner.train_step(fixed_batch(tuner, 3, 11 + step));

  const auto table_after = tuner.text_encoder().token_embedding();
  ASSERT_EQ(table_after.sizes(), table_before.sizes());
  EXPECT_TRUE(at::equal(table_after.slice(0, 0, base_rows), table_before.slice(0, 0, base_rows)));
  for (int64_t k = 0; k < 3; ++k) {
    EXPECT_FALSE(at::equal(table_after[base_rows + k], table_before[base_rows + k])) << "row of <class_" << k << ">";
  }
  EXPECT_EQ(tuner.prompts()[1], "a photo of a <class_1> bird");
}

TEST(FinetuneTraining, DreamBoothPromptsUseClassNamesAndLearnNoTokens) {
  Finetuner tuner(test::tiny_model_dir(), test::tiny_settings(Strategy::DreamBooth), kBirdClasses, "bird", 0);
  EXPECT_EQ(tuner.prompts()[2], "a photo of a owl bird");
  ASSERT_FALSE(tuner.parameters().empty());
  for (const auto& [name, tensor] : tuner.parameters()) EXPECT_NE(name, "token_embeddings");
  EXPECT_FALSE(tuner.tokenizer().token_id("<class_0>").has_value());
}

// One example on 8×8 latents with a generous rank and learning rate: the adapters and the embeddings can memorise
// it, so the loss must fall far below where it started.
TEST(FinetuneTraining, TinyModelOverfitsOneFixedBatch) {
  const auto [first, last] = test::overfit_one_example(test::tiny_settings(Strategy::Both), kBirdClasses);
  EXPECT_LT(last, first / 5.0) << "loss went from " << first << " to " << last;
}

TEST(FinetuneTraining, GradientAccumulationMatchesTheFullBatch) {
  auto settings = test::tiny_settings(Strategy::Both);
  settings.batch_size = 4;
  settings.learning_rate = 1e-3;
  // A large epsilon makes the update proportional to the gradient, so rounding differences between the two ways of
  // summing the batch stay rounding-sized instead of flipping the sign of near-zero updates.
  settings.adam_epsilon = 1.0;
  Finetuner whole(test::tiny_model_dir(), settings, kBirdClasses, "bird", 0);
  settings.micro_batch_size = 2;
  Finetuner accumulated(test::tiny_model_dir(), settings, kBirdClasses, "bird", 0);
  const auto batch = fixed_batch(whole, 4, 9);
  const double loss_whole = whole.train_step(batch);
  const double loss_accumulated = accumulated.train_step(batch);
  EXPECT_NEAR(loss_whole, loss_accumulated, 1e-6 * std::abs(loss_whole));
  for (size_t i = 0; i < whole.parameters().size(); ++i) {
    const auto& a = whole.parameters()[i].second;
    const auto& b = accumulated.parameters()[i].second;
    EXPECT_LT((a - b).abs().max().item<double>(), 1e-6) << whole.parameters()[i].first;
  }
}

TEST(FinetuneAdamW, OneStepMatchesTheAdamWFormula) {
  auto param = at::tensor({1.0, -2.0, 0.5}, at::kDouble);
  param.set_requires_grad(true);
  AdamW optimizer({{"w", param}}, {0.1, 0.9, 0.999, 0.01, 1e-8});
  param.mutable_grad() = at::tensor({0.5, 0.25, -1.0}, at::kDouble);
  optimizer.step();
  // Step 1: m̂ = g, v̂ = g², so the update is lr · g / (|g| + eps) after decay by (1 - lr·wd).
  const std::vector<double> start = {1.0, -2.0, 0.5}, grad = {0.5, 0.25, -1.0};
  for (int i = 0; i < 3; ++i) {
    const double expected = start[i] * (1 - 0.1 * 0.01) - 0.1 * grad[i] / (std::abs(grad[i]) + 1e-8);
    EXPECT_NEAR(param[i].item<double>(), expected, 1e-12);
  }
  EXPECT_EQ(optimizer.step_count(), 1);
}

TEST(FinetuneAdamW, GradientNormIsClippedToTheLimit) {
  auto a = at::zeros({2}, at::kDouble), b = at::zeros({1}, at::kDouble);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  a.mutable_grad() = at::tensor({3.0, 0.0}, at::kDouble);
  b.mutable_grad() = at::tensor({4.0}, at::kDouble);
  const double norm = clip_gradient_norm({{"a", a}, {"b", b}}, 1.0);
  EXPECT_NEAR(norm, 5.0, 1e-6);
  EXPECT_NEAR(a.grad()[0].item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-6);
}

TEST(FinetuneTraining, InitializerTokenMustBeOneToken) {
  auto settings = test::tiny_settings(Strategy::TextualInversion);
  settings.initializer_token = "photo photo";
  try {
    Finetuner tuner(test::tiny_model_dir(), settings, kBirdClasses, "bird", 0);
    FAIL() << "expected an error";
  } catch (const dmx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("initializer_token 'photo photo'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dmx::finetune
