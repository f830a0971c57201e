// Textual inversion against the fixture's `textual_inversion` case: new token ids, embedding rows, prompt ids and
// prompt embeddings; plus multi-vector tokens, save/load round trip and refusal of clashing tokens.
#include "clip_fixture.hpp"

#include "diffmix/error.hpp"
#include "diffmix/sd/textual_inversion.hpp"

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cstdio>

namespace {

using namespace dmx::sd;
using dmx::test::kParityTolerance;
using dmx::test::relative_error;


struct Loaded {
  CLIPTokenizer tokenizer = CLIPTokenizer::load(dmx::test::sd_fixture_model_dir() + "/tokenizer");
  CLIPTextModel text_encoder = CLIPTextModel::load(dmx::test::sd_fixture_model_dir());
};

TEST(TextualInversionParity, MatchesDiffusersLoadTextualInversion) {
  c10::InferenceMode inference;
  Loaded model;
  const auto fixture = dmx::test::open_case("textual_inversion");
  const auto ids = load_textual_inversion(dmx::test::sd_fixture_dir() + "/" + fixture.metadata().at("file"),
                                          model.tokenizer, model.text_encoder);

  const auto expected_ids = fixture.tensor("new_token_ids");
  ASSERT_EQ(static_cast<int64_t>(ids.size()), expected_ids.numel());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], expected_ids[i].item<int64_t>());
  EXPECT_EQ(model.tokenizer.vocab_size(), std::stoll(fixture.metadata().at("vocab_size_after")));
  EXPECT_EQ(model.text_encoder.token_embedding().size(0), model.tokenizer.vocab_size());
  const auto rows = model.text_encoder.token_embedding().index_select(0, expected_ids);
  EXPECT_LT(relative_error(rows, fixture.tensor("embedding_rows")), kParityTolerance);

  const auto prompt = fixture.metadata().at("prompt");
  const auto converted = expand_multi_vector_tokens(prompt, model.tokenizer);
  EXPECT_EQ(converted, fixture.metadata().at("converted_prompt"));
  const auto input_ids = model.tokenizer.encode_batch({converted}).input_ids;
  EXPECT_TRUE(at::equal(input_ids, fixture.tensor("input_ids")));
  EXPECT_LT(relative_error(model.text_encoder.encode(input_ids), fixture.tensor("prompt_embeds")), kParityTolerance);
}

TEST(TextualInversionTest, MultiVectorEmbeddingAddsNumberedTokens) {
  c10::InferenceMode inference;
  Loaded model;
  const auto hidden = model.text_encoder.token_embedding().size(1);
  const auto base = model.tokenizer.vocab_size();
  const auto embedding = at::randn({3, hidden});
  const auto ids = add_textual_inversion_tokens({{"<class_0>", embedding}}, model.tokenizer, model.text_encoder);
  EXPECT_EQ(ids, (std::vector<int64_t>{base, base + 1, base + 2}));
  EXPECT_TRUE(model.tokenizer.is_added_token("<class_0>_2"));
  EXPECT_TRUE(at::equal(model.text_encoder.token_embedding().narrow(0, base, 3), embedding));
  EXPECT_EQ(expand_multi_vector_tokens("a <class_0> bird", model.tokenizer), "a <class_0> <class_0>_1 <class_0>_2 bird");
  const auto encoded = model.tokenizer.encode("a <class_0> bird");
  EXPECT_EQ(encoded[2], base);
}

TEST(TextualInversionTest, SavedEmbeddingsLoadBack) {
  c10::InferenceMode inference;
  Loaded trained;
  const auto hidden = trained.text_encoder.token_embedding().size(1);
  const auto embeddings = at::randn({2, hidden});
  add_textual_inversion_tokens({{"<class_0>", embeddings[0]}, {"<class_1>", embeddings[1]}}, trained.tokenizer,
                               trained.text_encoder);
  const auto path = ::testing::TempDir() + "learned_embeds_roundtrip.safetensors";
  save_textual_inversion(path, {"<class_0>", "<class_1>"}, trained.tokenizer, trained.text_encoder);

  Loaded fresh;
  const auto ids = load_textual_inversion(path, fresh.tokenizer, fresh.text_encoder);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(*fresh.tokenizer.token_id("<class_1>"), ids[1]);
  EXPECT_TRUE(at::equal(fresh.text_encoder.token_embedding()[ids[1]], embeddings[1]));
  std::remove(path.c_str());
}

TEST(TextualInversionTest, ClashingTokenOrWrongWidthChangesNothing) {
  c10::InferenceMode inference;
  Loaded model;
  const auto hidden = model.text_encoder.token_embedding().size(1);
  const auto size = model.tokenizer.vocab_size();
  EXPECT_THROW(add_textual_inversion_tokens({{"<new>", at::randn({hidden})}, {"a</w>", at::randn({hidden})}},
                                            model.tokenizer, model.text_encoder),
               dmx::Error);
  EXPECT_THROW(add_textual_inversion_tokens({{"<new>", at::randn({hidden + 1})}}, model.tokenizer, model.text_encoder),
               dmx::Error);
  EXPECT_EQ(model.tokenizer.vocab_size(), size);
  EXPECT_FALSE(model.tokenizer.is_added_token("<new>"));
  EXPECT_EQ(model.text_encoder.token_embedding().size(0), size);
}

}  // namespace
