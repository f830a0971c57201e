// Mixed precision in the fine-tuner: the autocast guard, bfloat16 training on the CPU (the code path CUDA takes with
// fp16/bf16), dynamic loss scaling with its skipped updates, and the [finetune] precision key.
#include "diffmix/sd_finetune/finetuner.hpp"

#include "diffmix/config.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd_finetune/artifacts.hpp"
#include "diffmix/sd_finetune/loss_scaler.hpp"
#include "diffmix/torch_compat.hpp"
#include "finetune/finetune_fixtures.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace dmx::finetune {
namespace {

using test::fixed_batch;
using test::kBirdClasses;

// A batch whose loss, and so every gradient, is nan: what a float16 overflow produces.
TrainingBatch overflowing_batch(const Finetuner& tuner) {
  auto batch = fixed_batch(tuner, 2, 3);
  batch.latents[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  return batch;
}

FinetuneSettings settings_with(Precision precision) {
  auto settings = test::tiny_settings(Strategy::Both);
  settings.precision = precision;
  return settings;
}

std::vector<at::Tensor> snapshot(const NamedTensors& tensors) {
  std::vector<at::Tensor> out;
  for (const auto& [name, tensor] : tensors) out.push_back(tensor.detach().clone());
  return out;
}

void expect_equal(const std::vector<at::Tensor>& a, const NamedTensors& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(at::equal(a[i], b[i].second.detach())) << what << ": " << b[i].first;
  }
}

double relative_error(double a, double b) { return std::abs(a - b) / std::abs(b); }

// --- the autocast guard ---------------------------------------------------------------------------------------------

TEST(AutocastGuard, MatmulsComputeInTheGuardsDtypeOnlyInsideIt) {
  const auto x = at::randn({3, 8}), w = at::randn({5, 8});
  EXPECT_FALSE(compat::autocast_enabled(at::kCPU));
  EXPECT_EQ(at::linear(x, w).scalar_type(), at::kFloat);
  {
    compat::AutocastGuard autocast(at::kCPU, at::kBFloat16);
    EXPECT_TRUE(compat::autocast_enabled(at::kCPU));
    EXPECT_EQ(compat::autocast_dtype(at::kCPU), at::kBFloat16);
    EXPECT_EQ(at::linear(x, w).scalar_type(), at::kBFloat16);
    EXPECT_EQ(at::matmul(x, w.t()).scalar_type(), at::kBFloat16);
    // Precision-sensitive ops stay float32.
    EXPECT_EQ(at::mse_loss(at::linear(x, w), at::zeros({3, 5})).scalar_type(), at::kFloat);
  }
  EXPECT_FALSE(compat::autocast_enabled(at::kCPU));
  EXPECT_EQ(at::linear(x, w).scalar_type(), at::kFloat);
  EXPECT_EQ(at::matmul(x, w.t()).scalar_type(), at::kFloat);
}

TEST(AutocastGuard, NestedGuardsRestoreTheOuterState) {
  // CUDA's flags are thread-local state: setting them needs no GPU.
  const auto cuda_dtype_before = compat::autocast_dtype(at::kCUDA);
  {
    compat::AutocastGuard outer(at::kCUDA, at::kBFloat16);
    {
      compat::AutocastGuard inner(at::kCUDA, at::kHalf);
      EXPECT_TRUE(compat::autocast_enabled(at::kCUDA));
      EXPECT_EQ(compat::autocast_dtype(at::kCUDA), at::kHalf);
      EXPECT_FALSE(compat::autocast_enabled(at::kCPU)) << "a CUDA guard must leave the CPU alone";
    }
    EXPECT_TRUE(compat::autocast_enabled(at::kCUDA));
    EXPECT_EQ(compat::autocast_dtype(at::kCUDA), at::kBFloat16);
  }
  EXPECT_FALSE(compat::autocast_enabled(at::kCUDA));
  EXPECT_EQ(compat::autocast_dtype(at::kCUDA), cuda_dtype_before);

  const auto x = at::randn({2, 4}), w = at::randn({3, 4});
  {
    compat::AutocastGuard outer(at::kCPU, at::kBFloat16);
    { compat::AutocastGuard inner(at::kCPU, at::kBFloat16); }
    EXPECT_TRUE(compat::autocast_enabled(at::kCPU));
    EXPECT_EQ(at::linear(x, w).scalar_type(), at::kBFloat16);
  }
  EXPECT_FALSE(compat::autocast_enabled(at::kCPU));
}

TEST(AutocastGuard, OtherDeviceTypesAreRejected) {
  EXPECT_THROW(compat::AutocastGuard(at::DeviceType::XLA, at::kBFloat16), dmx::Error);
  EXPECT_FALSE(compat::autocast_enabled(at::kCPU));
}

// --- bfloat16 training on the CPU -----------------------------------------------------------------------------------

TEST(FinetunePrecision, AutoIsFloat32OnTheCpu) {
  Finetuner tuner(test::tiny_model_dir(), settings_with(Precision::Auto), kBirdClasses, "bird", 0);
  EXPECT_EQ(tuner.precision(), Precision::Float32);
  EXPECT_EQ(tuner.loss_scaler(), nullptr);
  EXPECT_EQ(resolve_precision(Precision::Auto, "cuda"), Precision::Float16);
  EXPECT_EQ(resolve_precision(Precision::BFloat16, "cuda"), Precision::BFloat16);
}

TEST(FinetunePrecision, BFloat16LossIsCloseToFloat32AndTheStateStaysFloat32) {
  Finetuner full(test::tiny_model_dir(), settings_with(Precision::Float32), kBirdClasses, "bird", 0);
  Finetuner mixed(test::tiny_model_dir(), settings_with(Precision::BFloat16), kBirdClasses, "bird", 0);
  EXPECT_EQ(mixed.precision(), Precision::BFloat16);
  EXPECT_EQ(mixed.loss_scaler(), nullptr) << "bfloat16 needs no loss scaling";
  const auto batch = fixed_batch(full, 3, 21);

  const auto full_loss = full.loss(batch);
  const auto mixed_loss = mixed.loss(batch);
  EXPECT_EQ(mixed_loss.scalar_type(), at::kFloat);
  const double a = mixed_loss.item<double>(), b = full_loss.item<double>();
  EXPECT_LT(relative_error(a, b), 0.02) << "bf16 " << a << " vs fp32 " << b;
  EXPECT_NE(a, b) << "the UNet did not run under autocast";
  EXPECT_FALSE(compat::autocast_enabled(at::kCPU)) << "the guard must not outlive the forward pass";

  mixed.train_step(batch);
  for (const auto& [name, tensor] : mixed.parameters()) EXPECT_EQ(tensor.scalar_type(), at::kFloat) << name;
  for (const auto& [name, tensor] : mixed.optimizer().state()) EXPECT_EQ(tensor.scalar_type(), at::kFloat) << name;
  EXPECT_EQ(mixed.text_encoder().token_embedding().scalar_type(), at::kFloat);
  EXPECT_EQ(mixed.step(), 1);
  EXPECT_EQ(mixed.optimizer_step(), 1);
}

// As TinyModelOverfitsOneFixedBatch in training_test.cpp, with the forward passes in bfloat16.
TEST(FinetunePrecision, BFloat16TrainingOverfitsOneFixedBatch) {
  const auto [first, last] = test::overfit_one_example(settings_with(Precision::BFloat16), kBirdClasses);
  EXPECT_LT(last, first / 5.0) << "loss went from " << first << " to " << last;
}

// --- dynamic loss scaling -------------------------------------------------------------------------------------------

struct ToyProblem {
  at::Tensor weight = at::tensor({0.5f, -1.25f, 2.0f}).set_requires_grad(true);
  at::Tensor input = at::tensor({0.3f, 0.7f, -0.2f});
  AdamW optimizer{{{"weight", weight}}, {1e-2, 0.9, 0.999, 1e-2, 1e-8}};

  at::Tensor loss() const { return (weight * input).sum().pow(2) * 1e-3; }
};

TEST(LossScaler, DefaultsAreGradScalers) {
  LossScaler scaler;
  EXPECT_EQ(scaler.current_scale(), 65536.0);
  const LossScalerOptions options;
  EXPECT_EQ(options.growth_factor, 2.0);
  EXPECT_EQ(options.backoff_factor, 0.5);
  EXPECT_EQ(options.growth_interval, 2000);
}

TEST(LossScaler, UnscaledGradientsEqualTheUnscaledLossGradients) {
  ToyProblem toy;
  toy.loss().backward();
  const auto reference = toy.weight.grad().clone();
  toy.optimizer.zero_grad();

  LossScaler scaler;
  scaler.scale(toy.loss()).backward();
  EXPECT_FALSE(at::equal(toy.weight.grad(), reference)) << "the loss was not scaled";
  EXPECT_TRUE(scaler.unscale(toy.optimizer.params()));
  // A power-of-two scale is exact in both directions.
  EXPECT_TRUE(at::equal(toy.weight.grad(), reference)) << toy.weight.grad() << " vs " << reference;
}

TEST(LossScaler, AnOverflowSkipsTheUpdateAndHalvesTheScale) {
  for (const float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    ToyProblem toy;
    LossScaler scaler;
    // One clean step first, so that the optimizer has a state to keep.
    scaler.scale(toy.loss()).backward();
    ASSERT_TRUE(scaler.step(toy.optimizer, 1.0));
    const auto weight_before = toy.weight.detach().clone();
    const auto state_before = snapshot(toy.optimizer.state());

    scaler.scale(toy.loss()).backward();
    toy.weight.mutable_grad()[1] = bad;
    EXPECT_FALSE(scaler.step(toy.optimizer, 1.0)) << bad;
    EXPECT_TRUE(at::equal(toy.weight.detach(), weight_before)) << bad;
    expect_equal(state_before, toy.optimizer.state(), "optimizer state");
    EXPECT_EQ(toy.optimizer.step_count(), 1) << "a skipped update must not advance the bias correction";
    EXPECT_FALSE(toy.weight.grad().defined()) << "the overflowed gradients must be dropped";
    EXPECT_EQ(scaler.current_scale(), 32768.0);
    EXPECT_EQ(scaler.state().growth_tracker, 0);
  }
}

TEST(LossScaler, TheScaleDoublesAfterGrowthIntervalCleanSteps) {
  ToyProblem toy;
  LossScaler scaler({1024.0, 2.0, 0.5, 3});
  for (int step = 1; step <= 2; ++step) {
    scaler.scale(toy.loss()).backward();
    ASSERT_TRUE(scaler.step(toy.optimizer, 0.0));
    EXPECT_EQ(scaler.current_scale(), 1024.0) << "step " << step;
    EXPECT_EQ(scaler.state().growth_tracker, step);
  }
  scaler.scale(toy.loss()).backward();
  ASSERT_TRUE(scaler.step(toy.optimizer, 0.0));
  EXPECT_EQ(scaler.current_scale(), 2048.0);
  EXPECT_EQ(scaler.state().growth_tracker, 0);
  EXPECT_EQ(toy.optimizer.step_count(), 3);

  // An overflow restarts the count: two clean steps after it are not enough to grow.
  scaler.update(true);
  scaler.update(false);
  scaler.update(false);
  EXPECT_EQ(scaler.current_scale(), 1024.0);
  scaler.update(false);
  EXPECT_EQ(scaler.current_scale(), 2048.0);
}

TEST(LossScaler, ACorruptStateIsRejected) {
  LossScaler scaler;
  EXPECT_THROW(scaler.load_state({std::numeric_limits<double>::infinity(), 0}, "ckpt.safetensors"), dmx::Error);
  EXPECT_THROW(scaler.load_state({0.0, 0}, "ckpt.safetensors"), dmx::Error);
  EXPECT_THROW(scaler.load_state({1024.0, -1}, "ckpt.safetensors"), dmx::Error);
  EXPECT_EQ(scaler.current_scale(), 65536.0);
}

TEST(FinetunePrecision, ASkippedUpdateStillCountsAsATrainingStep) {
  Finetuner tuner(test::tiny_model_dir(), settings_with(Precision::Float32), kBirdClasses, "bird", 0);
  tuner.use_loss_scaling({});
  ASSERT_NE(tuner.loss_scaler(), nullptr);
  const auto before = snapshot(tuner.parameters());

  const double loss = tuner.train_step(overflowing_batch(tuner));
  EXPECT_TRUE(std::isnan(loss));
  EXPECT_EQ(tuner.step(), 1);
  EXPECT_EQ(tuner.optimizer_step(), 0);
  EXPECT_EQ(tuner.loss_scaler()->current_scale(), 32768.0);
  expect_equal(before, tuner.parameters(), "parameters after a skipped update");

  tuner.train_step(fixed_batch(tuner, 2, 4));
  EXPECT_EQ(tuner.step(), 2);
  EXPECT_EQ(tuner.optimizer_step(), 1);
  EXPECT_FALSE(at::equal(before[0], tuner.parameters()[0].second.detach()));
}

// --- checkpoints ----------------------------------------------------------------------------------------------------

TEST(FinetunePrecision, CheckpointKeepsTheScalerAndBothStepCounts) {
  const auto dir = test::fresh_dir("precision-checkpoint");
  const auto checkpoint = dir + "/checkpoint.safetensors";
  const LossScalerOptions options{1024.0, 2.0, 0.5, 2};
  Finetuner first(test::tiny_model_dir(), settings_with(Precision::Float32), kBirdClasses, "bird", 0);
  first.use_loss_scaling(options);
  first.train_step(overflowing_batch(first));      // skipped: scale 512
  first.train_step(fixed_batch(first, 2, 30));     // tracker 1
  first.train_step(fixed_batch(first, 2, 31));     // grows: scale 1024, tracker 0
  first.train_step(fixed_batch(first, 2, 32));     // tracker 1
  ASSERT_EQ(first.step(), 4);
  ASSERT_EQ(first.optimizer_step(), 3);
  ASSERT_EQ(first.loss_scaler()->current_scale(), 1024.0);
  ASSERT_EQ(first.loss_scaler()->state().growth_tracker, 1);
  first.save_checkpoint(checkpoint);

  Finetuner resumed(test::tiny_model_dir(), settings_with(Precision::Float32), kBirdClasses, "bird", 0);
  resumed.use_loss_scaling(options);
  resumed.load_checkpoint(checkpoint);
  EXPECT_EQ(resumed.step(), 4);
  EXPECT_EQ(resumed.optimizer_step(), 3);
  EXPECT_EQ(resumed.loss_scaler()->current_scale(), 1024.0);
  EXPECT_EQ(resumed.loss_scaler()->state().growth_tracker, 1);

  // The next step grows the scale in both and updates the parameters identically.
  const auto batch = fixed_batch(first, 2, 33);
  EXPECT_EQ(first.train_step(batch), resumed.train_step(batch));
  EXPECT_EQ(resumed.loss_scaler()->current_scale(), 2048.0);
  EXPECT_EQ(first.loss_scaler()->current_scale(), 2048.0);
  expect_equal(snapshot(first.parameters()), resumed.parameters(), "parameters after the resumed step");
  expect_equal(snapshot(first.optimizer().state()), resumed.optimizer().state(), "optimizer state");
  EXPECT_EQ(resumed.optimizer_step(), 4);
}

TEST(FinetunePrecision, CheckpointsWithoutAnOptimizerStepUseTheStep) {
  const auto dir = test::fresh_dir("precision-old-checkpoint");
  const auto path = dir + "/checkpoint.safetensors";
  Finetuner first(test::tiny_model_dir(), settings_with(Precision::Float32), kBirdClasses, "bird", 0);
  first.train_step(fixed_batch(first, 2, 40));
  first.train_step(fixed_batch(first, 2, 41));
  first.save_checkpoint(path);
  // Rewrite it as a checkpoint from before the two counts were separate.
  {
    const auto file = io::SafetensorsFile::open(path);
    auto metadata = file.metadata();
    ASSERT_EQ(metadata.erase("optimizer_step"), 1u);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& name : file.names()) tensors.emplace_back(name, file.tensor(name));
    io::save_safetensors(path, tensors, metadata);
  }
  Finetuner resumed(test::tiny_model_dir(), settings_with(Precision::Float32), kBirdClasses, "bird", 0);
  resumed.load_checkpoint(path);
  EXPECT_EQ(resumed.step(), 2);
  EXPECT_EQ(resumed.optimizer_step(), 2);
}

// --- configuration --------------------------------------------------------------------------------------------------

using test::parse_finetune_config;

TEST(FinetunePrecisionConfig, KeyIsReadAndDefaultsToAuto) {
  EXPECT_EQ(parse_finetune_config("[model]\npath = \"sd15\"\n").train.precision, Precision::Auto);
  EXPECT_EQ(parse_finetune_config("[model]\npath = \"sd15\"\n[finetune]\nprecision = \"bf16\"\n").train.precision,
            Precision::BFloat16);
  EXPECT_EQ(parse_finetune_config("[model]\npath = \"sd15\"\n[finetune]\nprecision = \"fp32\"\n").train.precision,
            Precision::Float32);
  EXPECT_EQ(parse_finetune_config("[model]\npath = \"sd15\"\ndevice = \"cuda:1\"\n"
                                  "[finetune]\nprecision = \"fp16\"\n")
                .train.precision,
            Precision::Float16);
  try {
    parse_finetune_config("[model]\npath = \"sd15\"\n[finetune]\nprecision = \"fp8\"\n");
    FAIL() << "expected an error";
  } catch (const dmx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("precision"), std::string::npos) << e.what();
  }
}

TEST(FinetunePrecisionConfig, Float16OnTheCpuIsAConfigError) {
  try {
    parse_finetune_config("[model]\npath = \"sd15\"\ndevice = \"cpu\"\n[finetune]\nprecision = \"fp16\"\n");
    FAIL() << "expected an error";
  } catch (const dmx::Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.category(), ErrorCategory::Config) << message;
    for (const char* part : {"finetune.toml:", "precision", "'fp16'", "'cpu'"}) {
      EXPECT_NE(message.find(part), std::string::npos) << part << " missing from: " << message;
    }
  }
  // The same request through the C++ API, before any model is loaded.
  EXPECT_THROW(Finetuner("no-such-model", settings_with(Precision::Float16), kBirdClasses, "bird", 0), dmx::Error);
}

TEST(FinetunePrecisionConfig, ManifestRecordsTheResolvedPrecision) {
  const auto dir = test::fresh_dir("precision-manifest");
  Finetuner tuner(test::tiny_model_dir(), settings_with(Precision::Auto), kBirdClasses, "bird", 0);
  tuner.save_artifacts(dir);
  const auto manifest = FinetuneManifest::read(dir + "/" + kManifestFile);
  EXPECT_NE(manifest.config_toml.find("precision = \"fp32\""), std::string::npos) << manifest.config_toml;
}

}  // namespace
}  // namespace dmx::finetune
