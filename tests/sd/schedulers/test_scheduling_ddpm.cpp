// DDPMScheduler against diffusers 0.27.2 on the `scheduler_ddpm` fixture case: the training noise and the
// v-prediction target.
#include "../sd_fixtures.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/scheduling_ddpm.hpp"

#include <gtest/gtest.h>

namespace {

using dmx::sd::DDPMScheduler;
using dmx::test::kParityTolerance;
using dmx::test::relative_error;
using dmx::test::sd_fixture_dir;

class DdpmParity : public ::testing::Test {
 protected:
  DdpmParity()
      : reference_(dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/scheduler_ddpm.safetensors")),
        scheduler_(DDPMScheduler::load(sd_fixture_dir() + "/model")) {}
  at::Tensor ref(const std::string& name) const { return reference_.tensor(name); }

  dmx::io::SafetensorsFile reference_;
  DDPMScheduler scheduler_;
};

TEST_F(DdpmParity, TrainingScheduleMatches) {
  EXPECT_EQ(scheduler_.num_train_timesteps(), ref("betas").size(0));
  EXPECT_LT(relative_error(scheduler_.betas(), ref("betas")), 1e-6);
  EXPECT_LT(relative_error(scheduler_.alphas_cumprod(), ref("alphas_cumprod")), 1e-6);
}

TEST_F(DdpmParity, AddNoiseMatches) {
  const auto noisy = scheduler_.add_noise(ref("x0"), ref("noise"), ref("timesteps"));
  EXPECT_LT(relative_error(noisy, ref("noisy")), kParityTolerance);
}

TEST_F(DdpmParity, VelocityMatches) {
  const auto velocity = scheduler_.velocity(ref("x0"), ref("noise"), ref("timesteps"));
  EXPECT_LT(relative_error(velocity, ref("velocity")), kParityTolerance);
}

TEST_F(DdpmParity, TrainingTargetFollowsThePredictionType) {
  auto config = scheduler_.config();
  config.prediction_type = "epsilon";
  EXPECT_TRUE(
      at::equal(DDPMScheduler(config).training_target(ref("x0"), ref("noise"), ref("timesteps")), ref("noise")));
  config.prediction_type = "v_prediction";
  EXPECT_LT(relative_error(DDPMScheduler(config).training_target(ref("x0"), ref("noise"), ref("timesteps")),
                           ref("velocity")),
            kParityTolerance);
  config.prediction_type = "sample";
  EXPECT_TRUE(at::equal(DDPMScheduler(config).training_target(ref("x0"), ref("noise"), ref("timesteps")), ref("x0")));
}

TEST_F(DdpmParity, BadTimestepsAreErrors) {
  const auto x0 = ref("x0");
  const auto batch = x0.size(0);
  EXPECT_THROW(scheduler_.add_noise(x0, ref("noise"), at::full({batch}, 1000, at::kLong)), dmx::Error);
  EXPECT_THROW(scheduler_.add_noise(x0, ref("noise"), at::full({batch}, -1, at::kLong)), dmx::Error);
  EXPECT_THROW(scheduler_.add_noise(x0, ref("noise"), at::zeros({batch + 1}, at::kLong)), dmx::Error);
  EXPECT_THROW(scheduler_.add_noise(x0, ref("noise"), at::zeros({batch}, at::kFloat)), dmx::Error);
  EXPECT_THROW(scheduler_.add_noise(x0, ref("noise").narrow(1, 0, 1), ref("timesteps")), dmx::Error);
}

}  // namespace
