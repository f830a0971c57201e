// CLIPModel (both towers and projections) against the fixture's `clip` case. Sizes come from clip/config.json.
#include "clip_fixture.hpp"

#include "diffmix/error.hpp"
#include "diffmix/sd/clip_image_processor.hpp"
#include "diffmix/sd/clip_model.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

namespace {

using namespace dmx::sd;
using dmx::test::kParityTolerance;
using dmx::test::relative_error;

std::string clip_dir() { return dmx::test::sd_fixture_dir() + "/clip"; }

TEST(CLIPModelParity, MatchesTransformersCLIPModel) {
  c10::InferenceMode inference;
  const auto clip = CLIPModel::load(clip_dir());
  const auto fixture = dmx::test::open_case("clip");

  const auto tokenizer = CLIPTokenizer::load(clip_dir());
  const auto texts = dmx::test::case_meta(fixture, "texts").get<std::vector<std::string>>();
  const auto batch = tokenizer.encode_batch(texts);
  EXPECT_TRUE(at::equal(batch.input_ids, fixture.tensor("input_ids")));
  EXPECT_TRUE(at::equal(batch.attention_mask, fixture.tensor("attention_mask")));

  const auto pixels = fixture.tensor("pixel_values");
  const auto vision = clip.vision_model().forward(pixels);
  EXPECT_LT(relative_error(vision.last_hidden_state, fixture.tensor("vision_last_hidden_state")), kParityTolerance);
  EXPECT_LT(relative_error(vision.pooler_output, fixture.tensor("vision_pooled")), kParityTolerance);
  const auto text = clip.text_model().forward(batch.input_ids, batch.attention_mask);
  EXPECT_LT(relative_error(text.last_hidden_state, fixture.tensor("text_last_hidden_state")), kParityTolerance);

  const auto image_features = clip.get_image_features(pixels);
  EXPECT_LT(relative_error(image_features, fixture.tensor("image_embeds_unnormalized")), kParityTolerance);
  EXPECT_LT(relative_error(image_features, fixture.tensor("vision_with_projection.image_embeds")), kParityTolerance);
  EXPECT_LT(relative_error(clip.get_text_features(batch.input_ids, batch.attention_mask),
                           fixture.tensor("text_embeds_unnormalized")),
            kParityTolerance);

  const auto out = clip.forward(batch.input_ids, batch.attention_mask, pixels);
  EXPECT_LT(relative_error(out.image_embeds, fixture.tensor("image_embeds")), kParityTolerance);
  EXPECT_LT(relative_error(out.text_embeds, fixture.tensor("text_embeds")), kParityTolerance);
  EXPECT_LT(relative_error(out.logits_per_image, fixture.tensor("logits_per_image")), kParityTolerance);
  EXPECT_LT(relative_error(out.logits_per_text, fixture.tensor("logits_per_image").t()), kParityTolerance);
  EXPECT_LT(relative_error(clip.logit_scale().reshape({1}), fixture.tensor("logit_scale")), kParityTolerance);
}

TEST(CLIPModelTest, WrongImageSizeIsAShapeError) {
  c10::InferenceMode inference;
  const auto clip = CLIPModel::load(clip_dir());
  const auto size = clip.vision_model().config().image_size;
  try {
    clip.get_image_features(at::zeros({1, 3, size + 1, size}));
    FAIL();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Shape);
  }
}


TEST(CLIPImageProcessorParity, MatchesTransformersPixelValues) {
  const auto processor = dmx::sd::CLIPImageProcessor::load(clip_dir() + "/preprocessor_config.json");
  const auto fixture = dmx::test::open_case("clip");
  // image_a needs no resize; image_b needs a Pillow bicubic resize of its short side and a center crop.
  const auto pixels = processor.preprocess({fixture.tensor("image_a_uint8"), fixture.tensor("image_b_uint8")});
  const auto expected = fixture.tensor("pixel_values");
  ASSERT_EQ(pixels.sizes(), expected.sizes());
  EXPECT_LT(relative_error(pixels[0], expected[0]), kParityTolerance);
  EXPECT_LT(relative_error(pixels[1], expected[1]), kParityTolerance);
}

TEST(CLIPImageProcessorTest, SmallAndGrayImagesArePaddedAndConverted) {
  const auto processor = dmx::sd::CLIPImageProcessor::load(clip_dir() + "/preprocessor_config.json");
  const auto gray = at::full({5, 9, 1}, 255, at::kByte);
  const auto out = processor.preprocess(gray);
  EXPECT_EQ(out.sizes(), at::IntArrayRef({3, processor.crop_height(), processor.crop_width()}));
  EXPECT_THROW(processor.preprocess(at::zeros({4, 4, 2}, at::kByte)), dmx::Error);
  EXPECT_THROW(processor.preprocess(at::zeros({4, 4, 3}, at::kFloat)), dmx::Error);
}

}  // namespace
