// CLIPTextModel against the fixture's `text_encoder` case: every hidden state, the final and pooled outputs, and
// SD's prompt embeddings with and without clip_skip. Sizes come from the fixture's config.json.
#include "clip_fixture.hpp"

#include "diffmix/error.hpp"
#include "diffmix/sd/clip_text_model.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

namespace {

using dmx::sd::CLIPTextModel;
using dmx::test::kParityTolerance;
using dmx::test::relative_error;


TEST(CLIPTextModelParity, MatchesTransformersOutputs) {
  c10::InferenceMode inference;
  const auto model = CLIPTextModel::load(dmx::test::sd_fixture_model_dir());
  const auto fixture = dmx::test::open_case("text_encoder");
  const auto ids = fixture.tensor("input_ids");

  // The ids themselves come from our tokenizer.
  const auto tokenizer = dmx::sd::CLIPTokenizer::load(dmx::test::sd_fixture_model_dir() + "/tokenizer");
  const auto prompts = dmx::test::case_meta(fixture, "prompts").get<std::vector<std::string>>();
  EXPECT_TRUE(at::equal(tokenizer.encode_batch(prompts).input_ids, ids));

  const auto out = model.forward(ids, {}, true);
  EXPECT_LT(relative_error(out.last_hidden_state, fixture.tensor("last_hidden_state")), kParityTolerance);
  EXPECT_LT(relative_error(out.pooler_output, fixture.tensor("pooler_output")), kParityTolerance);
  ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), model.config().encoder.num_hidden_layers + 1);
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    SCOPED_TRACE("hidden_states." + std::to_string(i));
    EXPECT_LT(relative_error(out.hidden_states[i], fixture.tensor("hidden_states." + std::to_string(i))),
              kParityTolerance);
  }
  EXPECT_LT(relative_error(model.encode(ids), fixture.tensor("encode_prompt.prompt_embeds")), kParityTolerance);
  EXPECT_LT(relative_error(model.encode(ids, 1), fixture.tensor("encode_prompt.clip_skip1")), kParityTolerance);
}

TEST(CLIPTextModelTest, RejectsBadInputs) {
  c10::InferenceMode inference;
  const auto model = CLIPTextModel::load(dmx::test::sd_fixture_model_dir());
  const auto vocab = model.config().vocab_size;
  EXPECT_THROW(model.forward(at::zeros({1, 78}, at::kLong)), dmx::Error);           // longer than the position table
  EXPECT_THROW(model.forward(at::full({1, 4}, vocab, at::kLong)), dmx::Error);      // id outside the vocabulary
  EXPECT_THROW(model.forward(at::zeros({4}, at::kLong)), dmx::Error);               // not [B, L]
  EXPECT_THROW(model.encode(at::zeros({1, 4}, at::kLong), model.config().encoder.num_hidden_layers), dmx::Error);
}

TEST(CLIPTextModelTest, MisShapedWeightNamesItAndTheFile) {
  auto weights = dmx::sd::StateDict::load(dmx::test::sd_fixture_model_dir() + "/text_encoder/model.safetensors");
  auto config = dmx::sd::CLIPTextConfig::read(dmx::sd::ConfigFile::open(dmx::test::sd_fixture_model_dir() + "/text_encoder/config.json"));
  config.encoder.intermediate_size += 1;
  try {
    CLIPTextModel::load(weights, "text_model", config);
    FAIL();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Shape);
    EXPECT_NE(std::string(e.what()).find("text_model.encoder.layers.0.mlp.fc1.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
}

}  // namespace
