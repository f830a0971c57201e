// `diffmix finetune CONFIG` end to end on an ImageFolder dataset, and the config's defaults and errors.
#include "diffmix/config.hpp"
#include "diffmix/sd_finetune/artifacts.hpp"
#include "diffmix/sd_finetune/finetune_config.hpp"

#include "diffmix/error.hpp"
#include "finetune/finetune_fixtures.hpp"
#include "common/run_cli.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

namespace dmx::finetune {
namespace {

using test::run_cli;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FinetuneCli, FinetunesAnImageFolderAndWritesArtifacts) {
  const auto dir = test::fresh_dir("cli");
  test::write_image_folder(dir + "/birds", {"crow", "owl"});
  const auto config_path = dir + "/finetune.toml";
  std::ofstream(config_path) << "output = \"" << dir << "/run\"\n"
                             << "[data]\nkind = \"image-folder\"\nroot = \"" << dir << "/birds\"\nmetaclass = \"photo\"\n"
                             << "[model]\npath = \"" << test::tiny_model_dir() << "\"\n"
                             << "[finetune]\nstrategy = \"ti+db\"\nsteps = 3\nbatch_size = 2\nresolution = 32\n"
                             << "lora_rank = 2\ninitializer_token = \"photo\"\n";
  ASSERT_EQ(run_cli("finetune " + config_path, dir + "/log.txt"), 0) << read_text(dir + "/log.txt");
  for (const char* file : {kLoraFile, kEmbeddingsFile, kManifestFile}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/run/" + file)) << file;
  }
  const auto manifest = FinetuneManifest::read(dir + "/run/" + kManifestFile);
  EXPECT_EQ(manifest.class_names, (std::vector<std::string>{"crow", "owl"}));
  EXPECT_EQ(manifest.prompts[0], "a photo of a <class_0> photo");
  EXPECT_EQ(manifest.steps, 3);
  EXPECT_EQ(manifest.lora_rank, 2);
  EXPECT_NE(read_text(dir + "/log.txt").find("fine-tuned ti+db for 3 steps"), std::string::npos);
}

TEST(FinetuneCli, UnknownKeyIsAConfigError) {
  const auto dir = test::fresh_dir("cli-bad-key");
  const auto config_path = dir + "/finetune.toml";
  std::ofstream(config_path) << "[model]\npath = \"" << test::tiny_model_dir() << "\"\n[finetune]\nlora_rnak = 4\n";
  EXPECT_EQ(run_cli("finetune " + config_path, dir + "/log.txt"), 78);
  EXPECT_NE(read_text(dir + "/log.txt").find("did you mean 'lora_rank'"), std::string::npos)
      << read_text(dir + "/log.txt");
}

FinetuneConfig parse(const std::string& text) { return test::parse_finetune_config(text); }

TEST(FinetuneConfigFile, DefaultsAreThePapers) {
  const auto config = parse("[model]\npath = \"sd15\"\n");
  EXPECT_EQ(config.train.strategy, Strategy::Both);
  EXPECT_EQ(config.train.lora_rank, 10);
  EXPECT_EQ(config.train.batch_size, 8);
  EXPECT_EQ(config.train.steps, 35000);
  EXPECT_EQ(config.train.resolution, 512);
  EXPECT_DOUBLE_EQ(config.train.learning_rate, 5e-5);
  EXPECT_DOUBLE_EQ(config.train.weight_decay, 1e-2);
  EXPECT_DOUBLE_EQ(config.train.adam_epsilon, 1e-8);
  EXPECT_DOUBLE_EQ(config.train.max_grad_norm, 1.0);
  EXPECT_EQ(config.train.class_sampling, ClassSampling::Uniform);
}

TEST(FinetuneConfigFile, LongTailDataSamplesClassesBalanced) {
  const auto config = parse("[data]\nkind = \"cub\"\nroot = \"cub\"\nimbalance = 100\n[model]\npath = \"sd15\"\n");
  EXPECT_EQ(config.train.class_sampling, ClassSampling::Balanced);
  const auto overridden = parse("[data]\nimbalance = 100\n[model]\npath = \"sd15\"\n"
                                "[finetune]\nclass_sampling = \"uniform\"\nstrategy = \"ti\"\n");
  EXPECT_EQ(overridden.train.class_sampling, ClassSampling::Uniform);
  EXPECT_EQ(overridden.train.strategy, Strategy::TextualInversion);
}

TEST(FinetuneConfigFile, BadValuesNameTheKey) {
  EXPECT_THROW(parse("[finetune]\nsteps = 3\n"), dmx::Error);  // no [model]
  try {
    parse("[model]\npath = \"sd15\"\n[finetune]\nstrategy = \"lora\"\n");
    FAIL() << "expected an error";
  } catch (const dmx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("strategy"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse("[model]\npath = \"sd15\"\n[finetune]\nbatch_size = 4\nmicro_batch_size = 8\n"), dmx::Error);
}

}  // namespace
}  // namespace dmx::finetune
