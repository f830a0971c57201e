// The files `diffmix pretrain` writes, checked without training: configs with exactly the keys diffusers writes,
// the tokenizer, weights the engine loads by name and shape, their initialisation, and config errors.
#include "pretrain/pretrain_fixtures.hpp"
#include "sd/sd_fixtures.hpp"

#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/clip_tokenizer.hpp"
#include "diffmix/sd/config_file.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"
#include "diffmix/sd_pretrain/model_writer.hpp"
#include "diffmix/sd_pretrain/pretrainer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace dmx::test {
namespace {

namespace fs = std::filesystem;

const char* kConfigFiles[] = {"model_index.json",           "unet/config.json",
                              "vae/config.json",            "text_encoder/config.json",
                              "scheduler/scheduler_config.json", "tokenizer/tokenizer_config.json",
                              "tokenizer/special_tokens_map.json"};

// The JSON type of a value, with integers of either sign as one type (Python writes no unsigned).
std::string type_of(const nlohmann::json& value) {
  if (value.is_number_integer()) return "integer";
  return value.type_name();
}

// Every key of `expected` is in `actual` with a value of the same type, and nothing else is.
void expect_same_keys_and_types(const std::string& actual_path, const std::string& expected_path) {
  const auto actual = sd::ConfigFile::open(actual_path).json();      // reads Python's -Infinity too
  const auto expected = sd::ConfigFile::open(expected_path).json();
  ASSERT_TRUE(actual.is_object()) << actual_path;
  for (const auto& [key, value] : expected.items()) {
    ASSERT_TRUE(actual.contains(key)) << actual_path << ": missing key '" << key << "'";
    EXPECT_EQ(type_of(actual.at(key)), type_of(value)) << actual_path << ": key '" << key << "'";
    if (value.is_array() && !value.empty() && actual.at(key).is_array() && !actual.at(key).empty()) {
      EXPECT_EQ(type_of(actual.at(key)[0]), type_of(value[0])) << actual_path << ": elements of '" << key << "'";
    }
  }
  for (const auto& [key, value] : actual.items()) {
    EXPECT_TRUE(expected.contains(key)) << actual_path << ": key '" << key << "' is not in " << expected_path;
  }
}

// A Pretrainer writes its initial model to <work_dir>/model.
std::string initial_model(const std::string& name, pretrain::PretrainConfig config = {}) {
  const auto folder = fresh_pretrain_dir(name);
  if (config.output_dir.empty() || config.work_dir.empty()) config = tiny_pretrain_config(folder);
  config.work_dir = folder + "/work";
  pretrain::Pretrainer trainer(config, data::fashion_mnist_class_names(), pretrain::pretraining_caption("clothing"));
  return folder + "/work/model";
}

TEST(PretrainModelFiles, EveryConfigHasTheKeysAndTypesDiffusersWrites) {
  const auto model = initial_model("keys");
  for (const char* file : kConfigFiles) {
    SCOPED_TRACE(file);
    expect_same_keys_and_types(model + "/" + file, sd_fixture_dir() + "/model/" + file);
  }
}

TEST(PretrainModelFiles, ShippedConfigReadsAndWritesTheSameKeys) {
  const auto path = source_dir() + "/configs/fmnist_pretrain.toml";
  const auto document = config::Document::parse_file(path);
  const auto root = document.root();
  const auto config = pretrain::read_pretrain_config(root);
  root.finish();
  EXPECT_EQ(config.output_dir, "models/fmnist-sd");
  EXPECT_EQ(config.architecture.resolution, 32);
  EXPECT_EQ(config.architecture.latent_size(), 8);
  const auto folder = fresh_pretrain_dir("shipped-keys");
  const auto write = [&](const std::string& name, const std::string& text) {
    fs::create_directories(fs::path(folder + "/" + name).parent_path());
    std::ofstream(folder + "/" + name) << text;
  };
  write("unet/config.json", pretrain::unet_config_json(config.architecture));
  write("vae/config.json", pretrain::vae_config_json(config.architecture, 0.5));
  write("text_encoder/config.json",
        pretrain::text_encoder_config_json(config.architecture, pretrain::ClipVocabulary::learn({"a photo"})));
  for (const char* file : {"unet/config.json", "vae/config.json", "text_encoder/config.json"}) {
    SCOPED_TRACE(file);
    expect_same_keys_and_types(folder + "/" + file, sd_fixture_dir() + "/model/" + file);
  }
}

TEST(PretrainModelFiles, TokenizerEncodesTheCaptionsWordByWord) {
  const auto tokenizer = sd::CLIPTokenizer::load(initial_model("tokenizer") + "/tokenizer");
  const auto id = [&](const std::string& token) {
    const auto found = tokenizer.token_id(token);
    EXPECT_TRUE(found.has_value()) << token;
    return found.value_or(-1);
  };
  const auto bos = tokenizer.bos_token_id(), eos = tokenizer.eos_token_id();
  EXPECT_EQ(bos, tokenizer.vocab_size() - 2);
  EXPECT_EQ(eos, tokenizer.vocab_size() - 1);
  EXPECT_EQ(tokenizer.encode("a photo of a clothing"),
            (std::vector<int64_t>{bos, id("a</w>"), id("photo</w>"), id("of</w>"), id("a</w>"), id("clothing</w>"), eos}));
  EXPECT_EQ(tokenizer.encode(""), (std::vector<int64_t>{bos, eos}));
  const auto batch = tokenizer.encode_batch({"a photo of a clothing", ""});
  EXPECT_EQ(batch.input_ids.sizes(), (at::IntArrayRef{2, 16}));  // the tiny config's max_length
}

TEST(PretrainModelFiles, EveryClassNameRoundTripsAsWholeWords) {
  const auto tokenizer = sd::CLIPTokenizer::load(initial_model("class-names") + "/tokenizer");
  for (const auto& name : data::fashion_mnist_class_names()) {
    SCOPED_TRACE(name);
    const auto words = pretrain::clip_words(name);
    std::vector<std::string> expected;
    for (const auto& word : words) expected.push_back(word + "</w>");
    EXPECT_EQ(tokenizer.tokenize(name), expected);  // "T-shirt/top" -> t</w> -</w> shirt</w> /</w> top</w>
    std::string joined, lowered;
    for (const auto& piece : tokenizer.tokenize(name)) joined += piece.substr(0, piece.size() - 4);
    for (const char c : name) {
      if (c != ' ') lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    EXPECT_EQ(joined, lowered);
  }
  EXPECT_EQ(pretrain::clip_words("T-shirt/top"), (std::vector<std::string>{"t", "-", "shirt", "/", "top"}));
}

TEST(PretrainModelFiles, UnknownTextFallsBackToBytes) {
  const auto tokenizer = sd::CLIPTokenizer::load(initial_model("bytes") + "/tokenizer");
  const auto ids = tokenizer.encode("Zebra ünïcode 42 ✓");
  ASSERT_GT(ids.size(), 10u);
  for (size_t i = 1; i + 1 < ids.size(); ++i) {
    EXPECT_NE(ids[i], tokenizer.unk_token_id()) << "token " << i;  // unk is <|endoftext|>: nothing fell out
    EXPECT_LT(ids[i], tokenizer.bos_token_id());
  }
}

TEST(PretrainModelFiles, InitialisationIsPyTorchsDefault) {
  const auto folder = initial_model("init");
  const auto unet = io::SafetensorsFile::open(pretrain::unet_weights_path(folder));
  const auto conv = unet.tensor("conv_in.weight");  // fan_in 4 × 3 × 3
  const double bound = 1.0 / std::sqrt(36.0);
  EXPECT_LE(conv.abs().max().item<double>(), bound);
  EXPECT_GT(conv.abs().max().item<double>(), 0.9 * bound);
  EXPECT_TRUE(unet.tensor("conv_norm_out.weight").eq(1).all().item<bool>());
  EXPECT_TRUE(unet.tensor("conv_norm_out.bias").eq(0).all().item<bool>());
  const auto text = io::SafetensorsFile::open(pretrain::text_encoder_weights_path(folder));
  EXPECT_NEAR(text.tensor("text_model.embeddings.token_embedding.weight").std().item<double>(), 0.02, 0.002);
  EXPECT_TRUE(text.tensor("text_model.encoder.layers.0.mlp.fc1.bias").eq(0).all().item<bool>());
}

TEST(PretrainModelFiles, InitialModelLoadsAndGeneratesThroughTheEngine) {
  const auto sd = sd::StableDiffusion::load(initial_model("load"));
  sd::Txt2ImgRequest request;
  request.prompts = {"a photo of a clothing"};
  request.num_inference_steps = 2;
  const auto images = sd.txt2img(request).images;
  EXPECT_EQ(images.sizes(), (at::IntArrayRef{1, 16, 16, 3}));
  EXPECT_TRUE(images.isfinite().all().item<bool>());
}

// The message of the Config error `text` raises.
std::string config_error(const std::string& text) {
  try {
    const auto document = config::Document::parse_string(text, "bad.toml");
    const auto root = document.root();
    pretrain::read_pretrain_config(root);
    root.finish();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Config) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return "";
}

TEST(PretrainConfig, BadKeysAndValuesAreErrorsWithTheirPosition) {
  EXPECT_NE(config_error("[vae]\nsteps = 3\nlerning_rate = 1e-3\n").find("bad.toml:3:1"), std::string::npos);
  EXPECT_NE(config_error("[vae]\nlerning_rate = 1e-3\n").find("did you mean 'learning_rate'"), std::string::npos);
  EXPECT_NE(config_error("[unet]\nblock_out_channels = [64, 48]\n").find("bad.toml:2:"), std::string::npos);
  EXPECT_NE(config_error("[data]\nsplit = \"test\"\n").find("bad.toml:2:"), std::string::npos);
  EXPECT_NE(config_error("[pretrain]\nbatch_size = 0\n").find("bad.toml:2:"), std::string::npos);
  EXPECT_NE(config_error("[pretrain]\nresolution = 30\n").find("bad.toml:2:14: [pretrain] resolution 30"),
            std::string::npos);
  EXPECT_NE(config_error("[pretrain]\nresolution = 36\n[unet]\nblock_out_channels = [64, 128, 128]\n").find("bad.toml:4:"),
            std::string::npos);
}

}  // namespace
}  // namespace dmx::test
