// DPMSolverMultistepScheduler against diffusers 0.27.2 on the `scheduler_dpmsolver` fixture case: training schedule,
// timesteps and sigmas for every spacing, img2img start indices, and the latents after every solver step. Step counts
// come from the case itself (its tensor names and metadata), so any fixture set built the same way runs unchanged.
#include "../sd_fixtures.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/scheduling_dpmsolver_multistep.hpp"
#include "diffmix/sd/sdedit.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace {

using dmx::sd::DPMSolverMultistepScheduler;
using dmx::sd::SchedulerConfig;
using dmx::test::kParityTolerance;
using dmx::test::relative_error;
using dmx::test::sd_fixture_dir;

at::Tensor as_tensor(const std::vector<int64_t>& values) { return at::tensor(values, at::kLong); }
at::Tensor as_tensor(const std::vector<float>& values) { return at::tensor(values, at::kFloat); }

class DpmSolverParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reference_.emplace(dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/scheduler_dpmsolver.safetensors"));
  }
  static void TearDownTestSuite() { reference_.reset(); }
  static at::Tensor ref(const std::string& name) { return reference_->tensor(name); }
  // The first group of every tensor name that matches `pattern` (e.g. the N of "steps<N>.x_T"), in name order.
  static std::vector<std::string> names_matching(const std::string& pattern) {
    const std::regex re(pattern);
    std::vector<std::string> found;
    std::smatch match;
    for (const auto& name : reference_->names()) {
      if (std::regex_match(name, match, re)) found.push_back(match[1].str());
    }
    return found;
  }
  static DPMSolverMultistepScheduler fixture_scheduler() {
    return DPMSolverMultistepScheduler::load(sd_fixture_dir() + "/model");
  }
  static DPMSolverMultistepScheduler scheduler_with_spacing(const std::string& spacing) {
    auto config = SchedulerConfig::load_from_folder(sd_fixture_dir() + "/model");
    config.timestep_spacing = spacing;
    return DPMSolverMultistepScheduler(config);
  }
  static std::optional<dmx::io::SafetensorsFile> reference_;
};
std::optional<dmx::io::SafetensorsFile> DpmSolverParity::reference_;

TEST_F(DpmSolverParity, TrainingScheduleMatches) {
  const auto scheduler = fixture_scheduler();
  EXPECT_LT(relative_error(scheduler.betas(), ref("betas")), 1e-6);
  EXPECT_LT(relative_error(scheduler.alphas_cumprod(), ref("alphas_cumprod")), 1e-6);
}

TEST_F(DpmSolverParity, TimestepsAndSigmasForEverySpacing) {
  // "timesteps.<spacing>.<steps>", each with its "sigmas.<spacing>.<steps>".
  const auto suffixes = names_matching(R"(timesteps\.((linspace|leading|trailing)\.[0-9]+))");
  ASSERT_FALSE(suffixes.empty()) << "the case records no timesteps.<spacing>.<steps>";
  for (const auto& suffix : suffixes) {
    SCOPED_TRACE(suffix);
    const auto dot = suffix.find('.');
    auto scheduler = scheduler_with_spacing(suffix.substr(0, dot));
    scheduler.set_timesteps(std::stoll(suffix.substr(dot + 1)));
    EXPECT_TRUE(at::equal(as_tensor(scheduler.timesteps()), ref("timesteps." + suffix)));
    EXPECT_LT(relative_error(as_tensor(scheduler.sigmas()), ref("sigmas." + suffix)), 1e-6);
  }
}

// A property of diffusers' linspace spacing over 1000 training steps, whatever the fixture set records.
TEST(DpmSolverSchedule, LinspaceStepsOf25StartAt999) {
  SchedulerConfig config;
  config.num_train_timesteps = 1000;
  config.timestep_spacing = "linspace";
  DPMSolverMultistepScheduler scheduler(config);
  scheduler.set_timesteps(25);
  ASSERT_EQ(scheduler.timesteps().size(), 25u);
  EXPECT_EQ(scheduler.timesteps().front(), 999);
  EXPECT_EQ(scheduler.timesteps()[1], 959);
  EXPECT_EQ(scheduler.timesteps().back(), 40);
}

TEST_F(DpmSolverParity, Img2ImgTimestepsFollowTheStrengthRule) {
  const auto cases = nlohmann::json::parse(reference_->metadata().at("img2img"));
  ASSERT_FALSE(cases.empty());
  for (const auto& [name, expected] : cases.items()) {
    SCOPED_TRACE(name);
    const int64_t steps = expected.at("num_inference_steps").get<int64_t>();
    const double strength = expected.at("strength").get<double>();
    auto scheduler = fixture_scheduler();
    scheduler.set_timesteps(steps);
    const int64_t begin = dmx::sd::sdedit_begin_index(steps, strength);
    EXPECT_EQ(begin, expected.at("begin_index").get<int64_t>());
    const std::vector<int64_t> used(scheduler.timesteps().begin() + begin, scheduler.timesteps().end());
    EXPECT_EQ(static_cast<int64_t>(used.size()), expected.at("effective_steps").get<int64_t>());
    EXPECT_TRUE(at::equal(as_tensor(used), ref(name)));
  }
}

// Runs the recorded model outputs through the solver and compares the latents after every step.
void expect_trajectory(DPMSolverMultistepScheduler& scheduler, at::Tensor latents,
                       const std::vector<int64_t>& timesteps,
                       const at::Tensor& model_outputs, const at::Tensor& expected_latents) {
  ASSERT_EQ(static_cast<int64_t>(timesteps.size()), model_outputs.size(0));
  for (size_t i = 0; i < timesteps.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i) + " t=" + std::to_string(timesteps[i]));
    latents = scheduler.step(model_outputs[static_cast<int64_t>(i)], timesteps[i], latents);
    EXPECT_LT(relative_error(latents, expected_latents[static_cast<int64_t>(i)]), kParityTolerance);
  }
}

TEST_F(DpmSolverParity, EveryStepOfEveryRecordedRunMatches) {
  const auto step_counts = names_matching(R"(steps([0-9]+)\.x_T)");
  ASSERT_FALSE(step_counts.empty()) << "the case records no steps<N>.x_T";
  for (const auto& steps : step_counts) {
    SCOPED_TRACE(steps + " steps");
    auto scheduler = fixture_scheduler();
    scheduler.set_timesteps(std::stoll(steps));
    const std::string run = "steps" + steps;
    expect_trajectory(scheduler, ref(run + ".x_T"), scheduler.timesteps(), ref(run + ".model_output"),
                      ref(run + ".latents"));
  }
}

TEST_F(DpmSolverParity, Img2ImgNoisingAndStepsFromTheBeginIndex) {
  const auto recorded_timesteps = ref("i2i.timesteps");
  const int64_t run = recorded_timesteps.size(0);
  auto scheduler = fixture_scheduler();
  scheduler.set_timesteps(std::stoll(reference_->metadata().at("i2i_steps")));
  const int64_t begin = static_cast<int64_t>(scheduler.timesteps().size()) - run;
  scheduler.set_begin_index(begin);
  const std::vector<int64_t> used(scheduler.timesteps().begin() + begin, scheduler.timesteps().end());
  ASSERT_TRUE(at::equal(as_tensor(used), recorded_timesteps));

  const auto x0 = ref("i2i.x0");
  const auto start_t = at::full({x0.size(0)}, used.front(), at::kLong);
  const auto noisy = scheduler.add_noise(x0, ref("i2i.noise"), start_t);
  EXPECT_LT(relative_error(noisy, ref("i2i.noisy")), kParityTolerance);
  expect_trajectory(scheduler, noisy, used, ref("i2i.model_output"), ref("i2i.latents"));
}

TEST_F(DpmSolverParity, AddNoiseWithoutBeginIndexLooksTheTimestepUp) {
  auto scheduler = fixture_scheduler();
  scheduler.set_timesteps(std::stoll(reference_->metadata().at("i2i_steps")));
  const auto x0 = ref("i2i.x0");
  const int64_t t = ref("i2i.timesteps")[0].item<int64_t>();
  const auto noisy = scheduler.add_noise(x0, ref("i2i.noise"), at::full({x0.size(0)}, t, at::kLong));
  EXPECT_LT(relative_error(noisy, ref("i2i.noisy")), kParityTolerance);
}

TEST(DpmSolverErrors, MisuseIsAnErrorNamingTheProblem) {
  auto scheduler = DPMSolverMultistepScheduler::load(sd_fixture_dir() + "/model");
  const auto sample = at::zeros({1, 4, 2, 2});
  EXPECT_THROW(scheduler.step(sample, 999, sample), dmx::Error);  // before set_timesteps
  EXPECT_THROW(scheduler.set_timesteps(0), dmx::Error);
  scheduler.set_timesteps(5);
  EXPECT_THROW(scheduler.step(sample, 998, sample), dmx::Error);  // not in the schedule
  EXPECT_THROW(scheduler.step(at::zeros({1, 4, 2, 3}), 999, sample), dmx::Error);
  EXPECT_THROW(scheduler.set_begin_index(5), dmx::Error);
  for (const int64_t t : scheduler.timesteps()) scheduler.step(sample, t, sample);
  EXPECT_THROW(scheduler.step(sample, scheduler.timesteps().back(), sample), dmx::Error);  // ran past the end
}

}  // namespace
