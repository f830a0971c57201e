// `diffmix train` and `diffmix compare` as a user runs them: exit codes, the files they write, the printed table.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include "common/run_cli.hpp"
#include "common/test_files.hpp"
#include "data/data_test_files.hpp"
#include "data/published_layouts.hpp"
#include "diffmix/classifier/classifier.hpp"
#include "diffmix/classifier/weights.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/io/safetensors.hpp"

namespace {

namespace fs = std::filesystem;

using Command = dmx::test::CliRun;

Command run(const std::string& arguments) { return dmx::test::run_cli(arguments); }

std::string fresh_folder(const std::string& name) { return dmx::test::fresh_folder("dmx_cli_test", name); }
using dmx::test::read_text;
void write(const std::string& path, const std::string& text) { dmx::test::write_text(path, text); }

using dmx::test::lines_of;

std::string tiny_config(const std::string& output) {
  return "output = \"" + output + "\"\n"
         "[data]\nshots = 5\ntest_per_class = 5\ncrop_padding = 2\nmean = [0.286]\nstd = [0.353]\n"
         "[train]\nepochs = 1\nbatch_size = 10\nlr = 0.05\nthreads = 1\n";
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(std::string(dmx::data::kFashionMnistDefaultRoot) + "/train-images-idx3-ubyte.gz"))
      GTEST_SKIP() << "Fashion-MNIST is not installed (apt install dataset-fashion-mnist)";
    ASSERT_TRUE(fs::exists(dmx::test::cli_path())) << dmx::test::cli_path();
  }
};

TEST_F(CliTest, TrainWritesMetricsCheckpointAndWeights) {
  const std::string folder = fresh_folder("train");
  write(folder + "/tiny.toml", tiny_config(folder + "/run"));
  const Command command = run("train " + folder + "/tiny.toml");
  ASSERT_EQ(command.exit_code, 0) << command.output;
  EXPECT_NE(command.output.find("test top-1"), std::string::npos) << command.output;

  const auto metrics = lines_of(folder + "/run/metrics.jsonl");
  ASSERT_EQ(metrics.size(), 1u);
  for (const char* key : {"\"epoch\":1", "\"train_loss\"", "\"test_top1\"", "\"lr\"", "\"images_per_s\"", "Sneaker"})
    EXPECT_NE(metrics[0].find(key), std::string::npos) << key << " in " << metrics[0];
  EXPECT_TRUE(fs::exists(folder + "/run/checkpoint.safetensors"));
  EXPECT_TRUE(fs::exists(folder + "/run/model.safetensors"));

  // Running it again finds the finished run and does not train again.
  const Command again = run("train " + folder + "/tiny.toml");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(lines_of(folder + "/run/metrics.jsonl").size(), 1u);
}

TEST_F(CliTest, TrainsAVitFromWeightsMadeAtAnotherImageSize) {
  const std::string folder = fresh_folder("vit");
  // "Pretrained" ViT-Ti/16 weights for 1000 classes at 48 px (3×3 patches); the run trains at 32 px (2×2 patches).
  auto pretrained = dmx::classifier::make_classifier({"vit_tiny16", 1000, 3, 48});
  dmx::classifier::save_weights(*pretrained, folder + "/vit_tiny16.safetensors");
  // Fashion-MNIST's 28 px resized to 32 px: a whole number of 16-pixel patches.
  write(folder + "/vit.toml",
        "output = \"" + folder + "/run\"\n"
        "[data]\nshots = 5\ntest_per_class = 5\nimage_size = 32\ncrop_padding = 2\nmean = [0.286]\nstd = [0.353]\n"
        "[backbone]\narchitecture = \"vit_tiny16\"\nweights = \"" + folder + "/vit_tiny16.safetensors\"\n"
        "[train]\nepochs = 1\nbatch_size = 10\nlr = 0.001\nthreads = 1\n");
  const Command command = run("train " + folder + "/vit.toml");
  ASSERT_EQ(command.exit_code, 0) << command.output;
  EXPECT_NE(command.output.find("training vit_tiny16"), std::string::npos) << command.output;
  const auto trained = dmx::io::SafetensorsFile::open(folder + "/run/model.safetensors");
  EXPECT_EQ(trained.shape("pos_embed"), (std::vector<int64_t>{1, 5, 192}));
  EXPECT_EQ(trained.shape("head.weight"), (std::vector<int64_t>{10, 192}));
}

TEST_F(CliTest, AMisspelledKeyIsAConfigErrorWithASuggestion) {
  const std::string folder = fresh_folder("typo");
  write(folder + "/typo.toml", tiny_config(folder + "/run") + "batch_sise = 3\n");
  const Command command = run("train " + folder + "/typo.toml");
  EXPECT_EQ(command.exit_code, 78) << command.output;
  EXPECT_NE(command.output.find("batch_size"), std::string::npos) << command.output;
}

// label_smoothing has PyTorch's meaning; a value written for the old meaning (the confidence, 0.9) is refused with
// the fix, never read as 90 % smoothing.
TEST_F(CliTest, LabelSmoothingHasPyTorchsMeaningAndAnOldValueIsRefused) {
  const std::string folder = fresh_folder("smoothing");
  write(folder + "/old.toml", tiny_config(folder + "/run") + "label_smoothing = 0.9\n");
  const Command old = run("train " + folder + "/old.toml");
  EXPECT_EQ(old.exit_code, 78) << old.output;
  EXPECT_NE(old.output.find(folder + "/old.toml:13:19: label_smoothing = 0.9 "), std::string::npos) << old.output;
  EXPECT_NE(old.output.find("0.1 for 0.9"), std::string::npos) << old.output;
  write(folder + "/new.toml", tiny_config(folder + "/run") + "label_smoothing = 0.1\n");
  const Command trained = run("train " + folder + "/new.toml");
  EXPECT_EQ(trained.exit_code, 0) << trained.output;
}

// The authors' recipe: Resize((32, 32)) → RandomCrop(28, padding 8) (their 28 px mode), evaluation every 2nd epoch,
// and the best evaluated epoch reported beside the last one.
TEST_F(CliTest, ResizeThenCropAndTheBestEvaluatedEpochAreReported) {
  const std::string folder = fresh_folder("recipe");
  std::string config = tiny_config(folder + "/out");
  config.replace(config.find("[data]\n"), 7, "[data]\nresize = 32\nimage_size = 28\n");
  config.replace(config.find("crop_padding = 2"), 16, "crop_padding = 8");
  config.replace(config.find("epochs = 1"), 10, "epochs = 3\neval_every = 2");
  write(folder + "/recipe.toml", config + "[compare]\nseeds = [0]\n[[compare.setup]]\nname = \"none\"\n");
  const Command command = run("compare " + folder + "/recipe.toml");
  ASSERT_EQ(command.exit_code, 0) << command.output;
  EXPECT_NE(command.output.find("best epoch % (evaluated every 2)"), std::string::npos) << command.output;
  EXPECT_NE(command.output.find("best of the evaluated epochs (every 2)"), std::string::npos) << command.output;

  const auto results = lines_of(folder + "/out/results.csv");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0], "setup,seed,top1,mean_per_class,best_top1,best_epoch,output_dir,status");
  std::stringstream row(results[1]);
  std::vector<std::string> cells;
  for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
  ASSERT_EQ(cells.size(), 8u) << results[1];
  EXPECT_EQ(cells[7], "ok");
  EXPECT_GE(std::stod(cells[4]), std::stod(cells[2]));  // the best is never below the last
  EXPECT_TRUE(cells[5] == "2" || cells[5] == "3") << results[1];  // the evaluated epochs
  const std::string summary = read_text(folder + "/out/summary.md");
  EXPECT_NE(summary.find("| best epoch % (evaluated every 2) |"), std::string::npos) << summary;
  const std::string result = read_text(folder + "/out/none/seed-0/result.json");
  EXPECT_NE(result.find("\"best\""), std::string::npos) << result;

  // A resize without the crop, and a crop larger than the resized image, are refused before anything runs.
  const auto expect_refused = [&](const std::string& data_keys, const std::string& message) {
    std::string bad = tiny_config(folder + "/bad");
    bad.replace(bad.find("[data]\n"), 7, "[data]\n" + data_keys);
    write(folder + "/bad.toml", bad);
    const Command refused = run("train " + folder + "/bad.toml");
    EXPECT_EQ(refused.exit_code, 78) << refused.output;
    EXPECT_NE(refused.output.find(message), std::string::npos) << refused.output;
  };
  expect_refused("resize = 32\n", "resize = 32 needs image_size");
  expect_refused("resize = 24\nimage_size = 28\n", "image_size = 28 is larger than resize = 24");
}

// The paper's robustness test: a CUB classifier scored on the whole Waterbirds set, per (bird, place) group.
TEST_F(CliTest, ACubClassifierIsScoredPerWaterbirdsGroup) {
  const std::string folder = fresh_folder("waterbirds");
  dmx::test::write_waterbirds(folder + "/waterbirds");
  // A CUB tree with the two species the Waterbirds tree has, in CUB's order.
  std::string images, labels, split;
  const char* species[] = {"001.Black_footed_Albatross", "002.Least_Flycatcher"};
  for (int id = 1; id <= 8; ++id) {
    const int c = (id - 1) / 4;
    const std::string file = std::string(species[c]) + "/" + std::to_string(id) + ".jpg";
    dmx::test::write_picture(folder + "/cub/images/" + file, 12, 16, id);
    images += std::to_string(id) + " " + file + "\n";
    labels += std::to_string(id) + " " + std::to_string(c + 1) + "\n";
    split += std::to_string(id) + " 1\n";
  }
  write(folder + "/cub/classes.txt", std::string("1 ") + species[0] + "\n2 " + species[1] + "\n");
  write(folder + "/cub/images.txt", images);
  write(folder + "/cub/image_class_labels.txt", labels);
  write(folder + "/cub/train_test_split.txt", split);
  const std::string config = "output = \"" + folder + "/out\"\n"
                             "[data]\nkind = \"cub\"\nroot = \"" + folder + "/cub\"\ntest_kind = \"waterbirds\"\n"
                             "test_root = \"" + folder + "/waterbirds\"\ntest_split = \"all\"\nimage_size = 12\n"
                             "[train]\nepochs = 1\nbatch_size = 4\nthreads = 1\n"
                             "[compare]\nseeds = [0]\n[[compare.setup]]\nname = \"none\"\n";
  write(folder + "/robust.toml", config);
  const Command command = run("compare " + folder + "/robust.toml");
  ASSERT_EQ(command.exit_code, 0) << command.output;
  EXPECT_NE(command.output.find("test groups: landbird on land"), std::string::npos) << command.output;
  EXPECT_NE(command.output.find("worst group %"), std::string::npos) << command.output;
  // The four groups, one image each (the tree's four rows over its three splits).
  const auto groups = lines_of(folder + "/out/groups.csv");
  ASSERT_EQ(groups.size(), 5u);
  EXPECT_EQ(groups[0], "setup,group,images,accuracy");
  EXPECT_EQ(groups[1].rfind("none,landbird on land,1,", 0), 0u) << groups[1];
  const std::string result = read_text(folder + "/out/none/seed-0/result.json");
  EXPECT_NE(result.find("\"worst_group\""), std::string::npos) << result;
  EXPECT_NE(result.find("\"waterbird on water\""), std::string::npos) << result;

  // A CUB tree whose classes are not the Waterbirds tree's is refused, naming the first class that differs.
  dmx::test::write_cub(folder + "/other_cub", 2, 2);
  std::string other = config;
  other.replace(other.find(folder + "/cub\""), folder.size() + 5, folder + "/other_cub\"");
  write(folder + "/other.toml", other);
  const Command refused = run("compare " + folder + "/other.toml");
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("class 0 is 'Black footed Albatross' but"), std::string::npos) << refused.output;
}

TEST_F(CliTest, CompareTabulatesSetupsAndWritesReport) {
  const std::string folder = fresh_folder("compare");
  write(folder + "/compare.toml", tiny_config(folder + "/out") +
                                      "[compare]\nseeds = [0, 1]\n"
                                      "[[compare.setup]]\nname = \"none\"\n"
                                      "[[compare.setup]]\nname = \"cutmix\"\n"
                                      "augment = [{ augmenter = \"cutmix\", alpha = 1.0, prob = 0.5 }]\n");
  const Command command = run("compare " + folder + "/compare.toml");
  ASSERT_EQ(command.exit_code, 0) << command.output;
  EXPECT_NE(command.output.find("cutmix"), std::string::npos) << command.output;
  EXPECT_NE(command.output.find("±"), std::string::npos) << command.output;
  // cutmix − none, paired by seed, with its interval; two seeds are too few, and the table says so.
  EXPECT_NE(command.output.find("Δ vs none [95 % CI]"), std::string::npos) << command.output;
  EXPECT_NE(command.output.find("Warning: with 2 seeds"), std::string::npos) << command.output;
  const std::string markdown = read_text(folder + "/out/summary.md");
  EXPECT_NE(markdown.find("paired by seed"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| cutmix | "), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("] | 2 |"), std::string::npos) << markdown;  // the interval, then the runs

  const auto results = lines_of(folder + "/out/results.csv");
  ASSERT_EQ(results.size(), 5u);  // header + 2 set-ups × 2 seeds
  EXPECT_EQ(results[0].rfind("setup,seed,top1", 0), 0u);
  EXPECT_EQ(lines_of(folder + "/out/summary.csv").size(), 3u);
  EXPECT_NE(command.output.find("the report in " + folder + "/out/report/index.html"), std::string::npos)
      << command.output;
  const std::string data = read_text(folder + "/out/report/data.js");
  EXPECT_NE(data.find("\"Ankle boot\""), std::string::npos);
  EXPECT_TRUE(fs::exists(folder + "/out/cutmix/seed-1/model.safetensors"));
}

}  // namespace
