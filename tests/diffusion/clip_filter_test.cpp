// The CLIP filter's score against transformers' CLIPModel outputs on the tiny CLIP fixture, and the selection of the
// samples to keep.
#include "diffmix/diffusion/clip_filter.hpp"

#include "../sd/sd_fixtures.hpp"
#include "diffmix/error.hpp"

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace {

using namespace dmx::diffusion;

std::string clip_dir() { return dmx::test::sd_fixture_dir() + "/clip"; }

// Images of several sizes and contents, as a synthetic cache holds them.
std::vector<at::Tensor> test_images() {
  at::manual_seed(3);
  return {at::randint(0, 256, {32, 32, 3}, at::kByte), at::randint(0, 256, {48, 40, 3}, at::kByte),
          at::full({36, 50, 3}, 200, at::kByte), at::randint(0, 256, {64, 64, 3}, at::kByte)};
}

TEST(ClipFilter, CaptionsNameTheMetaclass) {
  const auto captions = clip_filter_captions("bird");
  EXPECT_EQ(captions[0], "a photo with a bird on it");
  EXPECT_EQ(captions[1], "a photo without a bird on it");
  EXPECT_THROW(clip_filter_captions(""), dmx::Error);
}

TEST(ClipFilter, ScoreIsTheSoftmaxOfCLIPModelsLogitsForTheWithCaption) {
  const auto filter = ClipFilter::load(clip_dir(), "bird");
  const auto images = test_images();
  const std::vector<float> scores = filter.score(images);
  ASSERT_EQ(scores.size(), images.size());

  // The explicit computation: CLIPModel.forward on both captions and the processed images, softmax per image.
  c10::InferenceMode inference;
  const auto clip = dmx::sd::CLIPModel::load(clip_dir());
  const auto tokens = dmx::sd::CLIPTokenizer::load(clip_dir()).encode_batch({"a photo with a bird on it",
                                                                               "a photo without a bird on it"});
  ASSERT_FALSE(at::equal(tokens.input_ids[0], tokens.input_ids[1]));  // the captions differ for the model too
  const auto pixels =
      dmx::sd::CLIPImageProcessor::load(clip_dir() + "/preprocessor_config.json").preprocess(images);
  const auto logits = clip.forward(tokens.input_ids, tokens.attention_mask, pixels).logits_per_image.to(at::kDouble);
  ASSERT_EQ(logits.sizes(), at::IntArrayRef({4, 2}));
  const auto expected = at::exp(logits.select(1, 0)) / (at::exp(logits.select(1, 0)) + at::exp(logits.select(1, 1)));
  const auto actual = at::tensor(scores, at::kFloat);
  EXPECT_LT(dmx::test::relative_error(actual, expected), 1e-5);
  // The images score differently, so the comparison above is not one between constants.
  EXPECT_GT(*std::max_element(scores.begin(), scores.end()) - *std::min_element(scores.begin(), scores.end()), 1e-4f);
  for (const float s : scores) {
    EXPECT_GE(s, 0.0f);
    EXPECT_LE(s, 1.0f);
  }
  // Scoring one image at a time gives the same numbers as a batch.
  for (size_t i = 0; i < images.size(); ++i)
    EXPECT_NEAR(filter.score({images[i]})[0], scores[i], 1e-6f);
  EXPECT_TRUE(filter.score({}).empty());
}

TEST(ClipFilterSelect, DropsExactlyTheLowestTenPercent) {
  std::vector<float> scores;
  for (int i = 0; i < 20; ++i) scores.push_back(static_cast<float>((i * 7) % 20) / 20.0f);  // a permutation
  // The two lowest are 0/20 at index 0 and 1/20 at index 3 (3·7 = 21 ≡ 1).
  const auto kept = select_kept(scores);
  ASSERT_EQ(kept.size(), 18u);
  for (const int64_t dropped : {0, 3}) EXPECT_EQ(std::count(kept.begin(), kept.end(), dropped), 0) << dropped;
  EXPECT_TRUE(std::is_sorted(kept.begin(), kept.end()));

  std::vector<float> thirty(30, 0.5f);
  EXPECT_EQ(select_kept(thirty).size(), 27u);
  EXPECT_EQ(select_kept(std::vector<float>(9, 0.5f)).size(), 9u);  // ⌊0.9⌋ = 0: nothing to drop
  EXPECT_EQ(select_kept(scores, 0.0).size(), 20u);
  EXPECT_EQ(select_kept(scores, 0.5).size(), 10u);
  EXPECT_TRUE(select_kept({}).empty());
}

TEST(ClipFilterSelect, TiesAreDroppedLowestIndexFirstAndNaNCountsAsLowest) {
  std::vector<float> scores(20, 0.9f);
  scores[5] = 0.2f;
  scores[7] = 0.3f;
  scores[12] = 0.3f;  // ties with index 7: index 7 goes
  auto kept = select_kept(scores);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), 5), 0);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), 7), 0);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), 12), 1);

  scores[15] = std::numeric_limits<float>::quiet_NaN();
  kept = select_kept(scores);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), 15), 0);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), 5), 0);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), 7), 1);

  EXPECT_THROW(select_kept(scores, 1.0), dmx::Error);
  EXPECT_THROW(select_kept(scores, -0.1), dmx::Error);
}

}  // namespace
