// The text-to-image and image-to-image pipelines against whole diffusers 0.27.2 runs (`pipeline_txt2img`,
// `pipeline_img2img`): every denoising step, the final latents and the decoded images, with the recorded random
// draws supplied as tensors.
#include "diffmix/error.hpp"
#include "diffmix/sd/image_processor.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"
#include "pipeline_case.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace {

using dmx::sd::Img2ImgRequest;
using dmx::sd::StableDiffusion;
using dmx::sd::Txt2ImgRequest;
using dmx::test::kParityTolerance;
using dmx::test::PipelineCase;
using dmx::test::relative_error;
using dmx::test::sd_fixture_dir;

class Pipelines : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pipeline_.emplace(StableDiffusion::load(sd_fixture_dir() + "/model")); }
  static void TearDownTestSuite() { pipeline_.reset(); }
  static const StableDiffusion& sd() { return *pipeline_; }

  static Txt2ImgRequest txt2img_request(const PipelineCase& recorded) {
    Txt2ImgRequest request;
    request.prompts = {recorded.meta("prompt").get<std::string>()};
    request.num_inference_steps = recorded.meta("steps").get<int64_t>();
    request.guidance_scale = recorded.meta("guidance_scale").get<double>();
    const auto image = recorded.tensor("image");
    request.height = image.size(1);
    request.width = image.size(2);
    request.initial_latents = recorded.tensor("initial_latents");
    return request;
  }
  static Img2ImgRequest img2img_request(const PipelineCase& recorded) {
    Img2ImgRequest request;
    request.prompts = {recorded.meta("prompt").get<std::string>()};
    request.num_inference_steps = recorded.meta("steps").get<int64_t>();
    request.guidance_scale = recorded.meta("guidance_scale").get<double>();
    request.strength = recorded.meta("strength").get<double>();
    request.images = dmx::sd::images_from_uint8(recorded.tensor("init_image_uint8"));
    request.posterior_noise = recorded.tensor("vae_sample_eps");
    request.noise = recorded.tensor("noise");
    return request;
  }

  static std::optional<StableDiffusion> pipeline_;
};
std::optional<StableDiffusion> Pipelines::pipeline_;

TEST_F(Pipelines, Txt2ImgMatchesEveryStepAndTheImage) {
  PipelineCase recorded("pipeline_txt2img");
  auto request = txt2img_request(recorded);
  request.on_step = recorded.step_checker();
  const auto result = sd().txt2img(request);
  EXPECT_EQ(recorded.steps_seen(), recorded.tensor("timesteps").size(0));
  EXPECT_LT(relative_error(result.latents.cpu(), recorded.tensor("final_latents")), kParityTolerance);
  EXPECT_LT(relative_error(result.images, recorded.tensor("image")), kParityTolerance);
}

TEST_F(Pipelines, PromptEmbeddingsAreTheGuidanceBatch) {
  PipelineCase recorded("pipeline_txt2img");
  const auto batch = recorded.tensor("prompt_embeds");  // [uncond; cond]
  const auto negative = sd().encode_prompts({""});
  const auto positive = sd().encode_prompts({recorded.meta("prompt").get<std::string>()});
  EXPECT_LT(relative_error(negative, recorded.tensor("negative_prompt_embeds")), kParityTolerance);
  EXPECT_LT(relative_error(at::cat({negative, positive}), batch), kParityTolerance);
}

TEST_F(Pipelines, Img2ImgMatchesPreprocessingNoisingEveryStepAndTheImage) {
  PipelineCase recorded("pipeline_img2img");
  auto request = img2img_request(recorded);
  EXPECT_LT(relative_error(dmx::sd::normalize_images(request.images), recorded.tensor("init_image_preprocessed")),
            kParityTolerance);
  EXPECT_LT(relative_error(sd().encode_images(request.images, *request.posterior_noise),
                           recorded.tensor("init_latents_scaled")),
            kParityTolerance);

  request.on_step = recorded.step_checker();
  const auto result = sd().img2img(request);
  EXPECT_EQ(recorded.steps_seen(), recorded.tensor("timesteps_used").size(0));
  EXPECT_LT(relative_error(result.latents.cpu(), recorded.tensor("final_latents")), kParityTolerance);
  EXPECT_LT(relative_error(result.images, recorded.tensor("image")), kParityTolerance);
}

TEST_F(Pipelines, Img2ImgStartsFromTheNoisedImageLatents) {
  PipelineCase recorded("pipeline_img2img");
  auto request = img2img_request(recorded);
  bool checked = false;
  request.on_step = [&](const dmx::sd::DenoisingStep& step) {
    if (step.index != 0) return;
    // The first UNet input is [noised; noised].
    EXPECT_LT(relative_error(step.unet_input.chunk(2)[0].cpu(), recorded.tensor("noised_latents")), kParityTolerance);
    checked = true;
  };
  sd().img2img(request);
  EXPECT_TRUE(checked);
}

TEST_F(Pipelines, EverySampleOfABatchEqualsItsSingleRun) {
  PipelineCase recorded("pipeline_txt2img");
  const auto single = sd().txt2img(txt2img_request(recorded));

  auto request = txt2img_request(recorded);
  const auto latents = recorded.tensor("initial_latents");
  request.prompts = {"a red fox in the snow", request.prompts[0]};
  request.initial_latents = at::cat({latents.flip(-1), latents});
  const auto batched = sd().txt2img(request);
  ASSERT_EQ(batched.images.size(0), 2);
  EXPECT_LT(relative_error(batched.images[1], single.images[0]), kParityTolerance);
  EXPECT_GT(relative_error(batched.images[0], single.images[0]), 1e-3);
}

TEST_F(Pipelines, ImagesPerPromptRepeatsEachPairConsecutively) {
  PipelineCase recorded("pipeline_img2img");
  auto request = img2img_request(recorded);
  const auto single = sd().img2img(request);

  request.images_per_prompt = 2;
  request.noise = at::cat({*request.noise, *request.noise});
  const auto doubled = sd().img2img(request);
  ASSERT_EQ(doubled.images.size(0), 2);
  EXPECT_LT(relative_error(doubled.images[0], single.images[0]), kParityTolerance);
  EXPECT_LT(relative_error(doubled.images[1], single.images[0]), kParityTolerance);
}

TEST_F(Pipelines, ASeedReproducesItsImagesAndAnotherSeedDoesNot) {
  PipelineCase recorded("pipeline_img2img");
  auto request = img2img_request(recorded);
  request.posterior_noise.reset();
  request.noise.reset();
  request.seed = 7;
  const auto first = sd().img2img(request);
  const auto again = sd().img2img(request);
  request.seed = 8;
  const auto other = sd().img2img(request);
  EXPECT_TRUE(at::equal(first.latents, again.latents));
  EXPECT_FALSE(at::equal(first.latents, other.latents));
}

TEST_F(Pipelines, WithoutGuidanceTheUNetSeesOneBranch) {
  PipelineCase recorded("pipeline_txt2img");
  auto request = txt2img_request(recorded);
  request.guidance_scale = 1.0;
  int64_t unet_batch = 0;
  request.on_step = [&](const dmx::sd::DenoisingStep& step) { unet_batch = step.unet_input.size(0); };
  const auto result = sd().txt2img(request);
  EXPECT_EQ(unet_batch, 1);
  EXPECT_EQ(result.images.size(0), 1);
}

TEST_F(Pipelines, BadRequestsAreErrorsNamingTheProblem) {
  PipelineCase recorded("pipeline_img2img");
  auto request = img2img_request(recorded);
  auto expect_error = [&](const Img2ImgRequest& bad, const std::string& mention) {
    try {
      sd().img2img(bad);
      ADD_FAILURE() << "no error; expected one mentioning " << mention;
    } catch (const dmx::Error& e) {
      EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
    }
  };
  auto bad = request;
  bad.strength = 0.0;
  expect_error(bad, "strength");
  bad = request;
  bad.prompts = {"a", "b"};
  bad.images = at::cat({request.images, request.images, request.images});
  bad.posterior_noise.reset();
  bad.noise.reset();
  expect_error(bad, "2 prompts for 3 images");
  bad = request;
  bad.images = request.images.narrow(2, 0, request.images.size(2) - 1);
  expect_error(bad, "multiple");
  bad = request;
  bad.noise = request.noise->narrow(2, 0, 2);
  expect_error(bad, "noise");
  bad = request;
  bad.prompts.clear();
  expect_error(bad, "prompt");

  PipelineCase txt("pipeline_txt2img");
  auto txt_request = txt2img_request(txt);
  txt_request.initial_latents = txt.tensor("initial_latents").narrow(1, 0, 3);
  EXPECT_THROW(sd().txt2img(txt_request), dmx::Error);
}

TEST(PipelineLoading, AFolderWithoutAComponentIsAnErrorNamingIt) {
  EXPECT_THROW(StableDiffusion::load(sd_fixture_dir() + "/model/unet"), dmx::Error);
  EXPECT_THROW(StableDiffusion::load("/nonexistent/sd-model"), dmx::Error);
}

}  // namespace
