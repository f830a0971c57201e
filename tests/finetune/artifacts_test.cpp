// Artifacts: saving and loading into a fresh model reproduces its outputs exactly; artifacts that do not fit the
// model are clear errors; an interrupted run resumes to the same weights as an uninterrupted one.
#include "diffmix/sd_finetune/artifacts.hpp"
#include "diffmix/sd_finetune/finetuner.hpp"

#include "diffmix/cancellation.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/io/file_lock.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/error.hpp"
#include "finetune/finetune_fixtures.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace dmx::finetune {
namespace {

FinetuneConfig tiny_config(const std::string& output, Strategy strategy = Strategy::Both) {
  FinetuneConfig config;
  config.output_dir = output;
  config.seed = 3;
  config.model_path = test::tiny_model_dir();
  config.train = test::tiny_settings(strategy);
  config.train.learning_rate = 1e-2;  // large, so that a few steps visibly move every parameter
  return config;
}

// What the fine-tuned model computes for class 1's prompt: text embeddings and the UNet's prediction.
std::pair<at::Tensor, at::Tensor> model_outputs(sd::CLIPTokenizer& tokenizer, sd::CLIPTextModel& text_encoder,
                                                sd::UNet2DConditionModel& unet, const std::string& prompt) {
  at::NoGradGuard no_grad;
  const auto context = text_encoder.encode(tokenizer.encode_batch({prompt}).input_ids);
  auto generator = at::detail::createCPUGenerator(5);
  const auto sample = at::randn({1, 4, 16, 16}, generator, at::kFloat);
  return {context, unet.forward(sample, at::tensor({321}, at::kLong), context)};
}

struct FreshModel {
  sd::CLIPTokenizer tokenizer = sd::CLIPTokenizer::load(test::tiny_model_dir() + "/tokenizer");
  sd::CLIPTextModel text_encoder = sd::CLIPTextModel::load(test::tiny_model_dir());
  sd::UNet2DConditionModel unet = sd::UNet2DConditionModel::load(test::tiny_model_dir());
};

void expect_error_containing(const std::function<void()>& action, const std::string& text) {
  try {
    action();
    FAIL() << "expected an error containing '" << text << "'";
  } catch (const dmx::Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

void rewrite_manifest(const std::string& folder, const std::string& from, const std::string& to) {
  const auto path = folder + "/" + kManifestFile;
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  std::ofstream(path) << text;
}

TEST(FinetuneArtifacts, SaveThenLoadReproducesOutputsExactly) {
  const auto output = test::fresh_dir("save-load");
  const test::RandomImages images({"sparrow", "crow"}, 2);
  const auto result = run_finetune(tiny_config(output), images);
  EXPECT_EQ(result.steps, 4);

  // The trained model as the run left it, rebuilt from its checkpoint.
  Finetuner trained(test::tiny_model_dir(), tiny_config(output).train, images.class_names(), images.metaclass(), 3);
  trained.load_checkpoint(output + "/checkpoint.safetensors");
  const auto prompt = trained.prompts()[1];
  EXPECT_EQ(prompt, "a photo of a <class_1> photo");
  const auto expected = model_outputs(trained.tokenizer(), trained.text_encoder(), trained.unet(), prompt);

  FreshModel fresh;
  const auto manifest = apply_finetune_artifacts(output, fresh.tokenizer, fresh.text_encoder, fresh.unet, 2);
  EXPECT_EQ(manifest.prompts[1], prompt);
  EXPECT_EQ(manifest.tokens, (std::vector<std::string>{"<class_0>", "<class_1>"}));
  EXPECT_EQ(manifest.steps, 4);
  EXPECT_EQ(manifest.lora_rank, 4);
  const auto actual = model_outputs(fresh.tokenizer, fresh.text_encoder, fresh.unet, prompt);
  EXPECT_TRUE(at::equal(actual.first, expected.first));
  EXPECT_TRUE(at::equal(actual.second, expected.second));

  // The trained LoRA is not a no-op: without it the UNet computes something else.
  auto vanilla_unet = sd::UNet2DConditionModel::load(test::tiny_model_dir());
  EXPECT_FALSE(at::equal(model_outputs(fresh.tokenizer, fresh.text_encoder, vanilla_unet, prompt).second,
                         expected.second));
}

TEST(FinetuneArtifacts, FilesUseDiffusersKeysAndTokens) {
  const auto output = test::fresh_dir("keys");
  const test::RandomImages images({"a", "b"}, 1);
  run_finetune(tiny_config(output), images);
  const auto lora = io::SafetensorsFile::open(output + "/" + kLoraFile);
  EXPECT_TRUE(lora.contains("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight"));
  EXPECT_TRUE(lora.contains("unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_out.0.lora.up.weight"));
  const auto embeddings = io::SafetensorsFile::open(output + "/" + kEmbeddingsFile);
  EXPECT_EQ(embeddings.names(), (std::vector<std::string>{"<class_0>", "<class_1>"}));
  EXPECT_EQ(embeddings.shape("<class_0>"), (std::vector<int64_t>{32}));
}

TEST(FinetuneArtifacts, ArtifactsThatDoNotFitTheModelAreErrors) {
  const auto output = test::fresh_dir("misfit");
  const test::RandomImages images({"a", "b"}, 1);
  run_finetune(tiny_config(output), images);

  {
    FreshModel model;
    expect_error_containing([&] { apply_finetune_artifacts(output, model.tokenizer, model.text_encoder, model.unet, 3); },
                            "fine-tuned on 2 classes, but the dataset has 3");
    // Nothing was added by the failed call.
    EXPECT_FALSE(model.tokenizer.token_id("<class_0>").has_value());
  }
  rewrite_manifest(output, "\"lora_rank\": 4", "\"lora_rank\": 8");
  {
    FreshModel model;
    expect_error_containing([&] { apply_finetune_artifacts(output, model.tokenizer, model.text_encoder, model.unet); },
                            "has rank 4, but the manifest says rank 8");
  }
  rewrite_manifest(output, "\"lora_rank\": 8", "\"lora_rank\": 4");
  rewrite_manifest(output, "\"text_vocab_size\": 781", "\"text_vocab_size\": 49408");
  {
    FreshModel model;
    expect_error_containing([&] { apply_finetune_artifacts(output, model.tokenizer, model.text_encoder, model.unet); },
                            "text vocabulary size 49408, but this model has 781");
  }
}

TEST(FinetuneArtifacts, LoraOfTheWrongShapeIsAnError) {
  const auto output = test::fresh_dir("wrong-shape");
  const test::RandomImages images({"a"}, 1);
  run_finetune(tiny_config(output, Strategy::DreamBooth), images);
  // Replace one adapter by one of the wrong width.
  const auto path = output + "/" + kLoraFile;
  const auto file = io::SafetensorsFile::open(path);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& name : file.names()) {
    auto tensor = file.tensor(name);
    if (name == "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora.down.weight") {
      tensor = at::zeros({4, 7});
    }
    tensors.emplace_back(name, tensor);
  }
  io::save_safetensors(path, tensors);
  FreshModel model;
  expect_error_containing([&] { apply_finetune_artifacts(output, model.tokenizer, model.text_encoder, model.unet); },
                          "attn2.to_k");
}

// Two runs of one comparison may want the same fine-tuned model: while one process fine-tunes into a folder, another
// is told the folder is busy (and `diffmix compare` retries it later) instead of training over it.
TEST(FinetuneResume, AFolderAnotherProcessFineTunesIntoIsBusy) {
  const test::RandomImages images({"sparrow", "crow"}, 1);
  const auto output = test::fresh_dir("busy");
  auto config = tiny_config(output);
  config.train.steps = 1;
  {
    const auto lock = io::FileLock::try_acquire(output + "/" + kLockFile);
    ASSERT_TRUE(lock.has_value());
    try {
      run_finetune(config, images);
      FAIL() << "fine-tuned into a folder another process holds";
    } catch (const dmx::Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::Busy);
      EXPECT_NE(std::string(e.what()).find(output + ": another process is fine-tuning into this folder"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_FALSE(std::filesystem::exists(output + "/" + kManifestFile));
  EXPECT_EQ(run_finetune(config, images).steps, 1);
}

TEST(FinetuneResume, InterruptedThenResumedRunEndsWithTheSameWeights) {
  const test::RandomImages images({"sparrow", "crow", "owl"}, 2);
  const auto straight = test::fresh_dir("straight");
  auto config = tiny_config(straight);
  config.train.steps = 6;
  config.train.checkpoint_every = 2;
  run_finetune(config, images);

  const auto interrupted = test::fresh_dir("interrupted");
  config.output_dir = interrupted;
  FinetuneRunOptions stop_at_3;
  stop_at_3.on_step = [](int64_t step, double) {
    if (step == 3) request_cancel();
  };
  try {
    run_finetune(config, images, stop_at_3);
    FAIL() << "expected the run to be cancelled";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Cancelled);
  }
  clear_cancel();
  const auto checkpoint = io::SafetensorsFile::open(interrupted + "/checkpoint.safetensors");
  EXPECT_EQ(checkpoint.metadata().at("step"), "3");
  // A kill while the next checkpoint was written would also have left its temporary copy; the resumed run removes it.
  std::ofstream(interrupted + "/checkpoint.safetensors.tmp-Ab12Cd") << "half a checkpoint";
  const auto resumed = run_finetune(config, images);
  EXPECT_FALSE(std::filesystem::exists(interrupted + "/checkpoint.safetensors.tmp-Ab12Cd"));
  EXPECT_EQ(resumed.resumed_from, 3);
  EXPECT_EQ(resumed.steps, 6);

  for (const char* name : {kLoraFile, kEmbeddingsFile}) {
    const auto a = io::SafetensorsFile::open(straight + "/" + name);
    const auto b = io::SafetensorsFile::open(interrupted + "/" + name);
    ASSERT_EQ(a.names(), b.names());
    for (const auto& key : a.names()) EXPECT_TRUE(at::equal(a.tensor(key), b.tensor(key))) << name << " " << key;
  }
  // The optimizer state is part of the resume too.
  const auto a = io::SafetensorsFile::open(straight + "/checkpoint.safetensors");
  const auto b = io::SafetensorsFile::open(interrupted + "/checkpoint.safetensors");
  for (const auto& key : a.names()) EXPECT_TRUE(at::equal(a.tensor(key), b.tensor(key))) << key;
}

TEST(FinetuneResume, CheckpointOfAnotherStrategyIsRefused) {
  const auto output = test::fresh_dir("other-strategy");
  const test::RandomImages images({"a"}, 1);
  run_finetune(tiny_config(output, Strategy::DreamBooth), images);
  auto config = tiny_config(output, Strategy::Both);
  config.train.steps = 6;
  expect_error_containing([&] { run_finetune(config, images); }, "checkpoint has strategy db, this run has ti+db");
}

}  // namespace
}  // namespace dmx::finetune
