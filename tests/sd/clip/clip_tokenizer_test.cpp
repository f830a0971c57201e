// CLIPTokenizer against the fixture set's `tokenizer` case (ids exactly), plus unit tests that spell out tokens of the
// vocabulary bundled in the source tree (so they read that copy whatever $DIFFMIX_SD_FIXTURES names) and clear
// errors for broken tokenizer files.
#include "clip_fixture.hpp"

#include "diffmix/error.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace {

using dmx::sd::CLIPTokenizer;

// The fixture set's tokenizer, for parity with its recorded ids.
std::string tokenizer_dir() { return dmx::test::sd_fixture_dir() + "/model/tokenizer"; }
// The tokenizer in the source tree, whose vocabulary the unit tests below name tokens of ("horse</w>", ...).
std::string bundled_tokenizer_dir() { return dmx::test::source_dir() + "/tests/fixtures/sd-tiny/model/tokenizer"; }

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const auto flat = t.reshape({-1}).contiguous();
  return {flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel()};
}

TEST(CLIPTokenizerParity, MatchesTransformersIdsForEveryPrompt) {
  const auto tokenizer = CLIPTokenizer::load(tokenizer_dir());
  const auto fixture = dmx::test::open_case("tokenizer");
  EXPECT_EQ(tokenizer.bos_token_id(), std::stoll(fixture.metadata().at("bos_token_id")));
  EXPECT_EQ(tokenizer.eos_token_id(), std::stoll(fixture.metadata().at("eos_token_id")));
  EXPECT_EQ(tokenizer.pad_token_id(), std::stoll(fixture.metadata().at("pad_token_id")));
  EXPECT_EQ(tokenizer.vocab_size(), std::stoll(fixture.metadata().at("vocab_size")));
  EXPECT_EQ(tokenizer.model_max_length(), std::stoll(fixture.metadata().at("model_max_length")));

  const auto prompts = dmx::test::case_meta(fixture, "prompts");
  const auto bpe_tokens = dmx::test::case_meta(fixture, "bpe_tokens");
  ASSERT_GT(prompts.size(), 0u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto prompt = prompts[i].get<std::string>();
    SCOPED_TRACE("prompt " + std::to_string(i) + ": " + prompt);
    const auto p = "p" + std::to_string(i) + ".";
    EXPECT_EQ(tokenizer.tokenize(prompt), bpe_tokens[i].get<std::vector<std::string>>());
    EXPECT_EQ(tokenizer.encode(prompt), to_vector(fixture.tensor(p + "ids_untruncated")));
    const auto batch = tokenizer.encode_batch({prompt});
    EXPECT_EQ(batch.input_ids.sizes(), fixture.shape(p + "input_ids"));
    EXPECT_EQ(to_vector(batch.input_ids), to_vector(fixture.tensor(p + "input_ids")));
    EXPECT_EQ(to_vector(batch.attention_mask), to_vector(fixture.tensor(p + "attention_mask")));
  }
}

TEST(CLIPTokenizerTest, BatchesArePaddedPerPrompt) {
  const auto tokenizer = CLIPTokenizer::load(bundled_tokenizer_dir());
  const auto batch = tokenizer.encode_batch({"a photo of a horse", ""}, 10);
  ASSERT_EQ(batch.input_ids.sizes(), at::IntArrayRef({2, 10}));
  const auto empty = to_vector(batch.input_ids[1]);
  EXPECT_EQ(empty[0], tokenizer.bos_token_id());
  EXPECT_EQ(empty[1], tokenizer.eos_token_id());
  EXPECT_EQ(empty[9], tokenizer.pad_token_id());
  EXPECT_EQ(batch.attention_mask[1].sum().item<int64_t>(), 2);
}

TEST(CLIPTokenizerTest, SpecialTokensInTextAreKeptWhole) {
  const auto tokenizer = CLIPTokenizer::load(bundled_tokenizer_dir());
  const auto ids = tokenizer.encode("a<|endoftext|>b");
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids[2], tokenizer.eos_token_id());
}

TEST(CLIPTokenizerTest, AddedTokensGetNewIdsAndAreMatchedWhole) {
  auto tokenizer = CLIPTokenizer::load(bundled_tokenizer_dir());
  const auto base = tokenizer.vocab_size();
  EXPECT_EQ(tokenizer.add_token("<class_0>"), base);
  EXPECT_EQ(tokenizer.add_token("<class_0>_1"), base + 1);
  EXPECT_EQ(tokenizer.vocab_size(), base + 2);
  EXPECT_TRUE(tokenizer.is_added_token("<class_0>"));
  EXPECT_THROW(tokenizer.add_token("<class_0>"), dmx::Error);
  EXPECT_THROW(tokenizer.add_token("a</w>"), dmx::Error);  // already a vocabulary entry

  // Longest match wins, with no space needed around the token.
  EXPECT_EQ(tokenizer.tokenize("a <class_0>_1 horse"), (std::vector<std::string>{"a</w>", "<class_0>_1", "horse</w>"}));
  const auto ids = tokenizer.encode("a photo of a <class_0> bird");
  EXPECT_NE(std::find(ids.begin(), ids.end(), base), ids.end());
}

TEST(CLIPTokenizerTest, InvalidUtf8PromptIsAnError) {
  const auto tokenizer = CLIPTokenizer::load(bundled_tokenizer_dir());
  try {
    tokenizer.encode("caf\xc3");
    FAIL();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("invalid UTF-8"), std::string::npos) << e.what();
  }
}

// A copy of the fixture tokenizer with one file replaced.
class BrokenTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dmx_tokenizer_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    ASSERT_EQ(std::system(("cp '" + bundled_tokenizer_dir() + "'/* '" + dir_ + "'").c_str()), 0);
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  void replace(const std::string& name, const std::string& content) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << content;
  }
  void expect_load_error(const std::string& fragment) {
    try {
      CLIPTokenizer::load(dir_);
      FAIL() << "no error";
    } catch (const dmx::Error& e) {
      EXPECT_EQ(e.category(), dmx::ErrorCategory::Format) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }
  std::string dir_;
};

TEST_F(BrokenTokenizerTest, BadVocabJsonNamesFileAndLine) {
  replace("vocab.json", "{\"a\": 0,\n\"b\": 1,\n\"c\" 2}");
  expect_load_error(dir_ + "/vocab.json:3:");
}

TEST_F(BrokenTokenizerTest, NonIntegerVocabIdNamesTheToken) {
  replace("vocab.json", R"({"a": 0, "b": "one"})");
  expect_load_error("token 'b'");
}

TEST_F(BrokenTokenizerTest, MalformedMergesLineNamesFileAndLine) {
  replace("merges.txt", "#version: 0.2\ni n\ns t e\n");
  expect_load_error(dir_ + "/merges.txt:3:");
}

TEST_F(BrokenTokenizerTest, SpecialTokenMissingFromVocab) {
  replace("vocab.json", R"({"a": 0, "<|startoftext|>": 1})");
  expect_load_error("'<|endoftext|>'");
}

}  // namespace
