// `diffmix train --nproc-per-node 2` as a user runs it: two local ranks on Gloo reach the weights one process reaches
// with the same global batch, rank 0 alone writes the output folder, and a checkpoint is only continued by the same
// number of processes.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/run_cli.hpp"
#include "common/test_files.hpp"
#include "common/weight_difference.hpp"
#include "diffmix/data/datasets.hpp"

namespace {

namespace fs = std::filesystem;
using dmx::test::run_cli;

// A ViT (LayerNorm only: no batch statistics that would differ between a whole batch and its halves) on 80
// Fashion-MNIST images in batches of 16: 5 steps per epoch, 2 epochs.
std::string vit_config(const std::string& output) {
  return "output = \"" + output + "\"\n"
         "[data]\nshots = 8\ntest_per_class = 3\nimage_size = 32\ncrop_padding = 2\nmean = [0.286]\nstd = [0.353]\n"
         "workers = 1\n"
         "[backbone]\narchitecture = \"vit_tiny16\"\n"
         "[train]\nepochs = 2\nbatch_size = 16\nlr = 0.01\nwarmup_epochs = 0\nthreads = 1\n";
}

using dmx::test::largest_relative_difference;
using dmx::test::lines_of;

class DataParallelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(std::string(dmx::data::kFashionMnistDefaultRoot) + "/train-images-idx3-ubyte.gz"))
      GTEST_SKIP() << "Fashion-MNIST is not installed (apt install dataset-fashion-mnist)";
  }
};

TEST_F(DataParallelTest, TwoProcessesReachTheWeightsOfOne) {
  const std::string folder = dmx::test::fresh_folder("dmx_data_parallel_test", "equal");
  dmx::test::write_text(folder + "/vit.toml", vit_config(folder + "/single"));
  const auto single = run_cli("train " + folder + "/vit.toml");
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const auto pair = run_cli("train " + folder + "/vit.toml --output " + folder + "/pair --nproc-per-node 2");
  ASSERT_EQ(pair.exit_code, 0) << pair.output;
  EXPECT_NE(pair.output.find("data parallel: 2 processes, 8 images of every batch of 16 each"), std::string::npos)
      << pair.output;
  EXPECT_EQ(pair.output.find("[rank 1] [info]"), std::string::npos) << "rank 1 logs warnings only\n" << pair.output;

  const double difference = largest_relative_difference(folder + "/single/model.safetensors",
                                                        folder + "/pair/model.safetensors");
  EXPECT_LT(difference, 1e-5) << "after 10 steps";
  // One metrics file, written once per epoch by rank 0, with the losses of the whole batches.
  const auto single_metrics = lines_of(folder + "/single/metrics.jsonl");
  const auto pair_metrics = lines_of(folder + "/pair/metrics.jsonl");
  ASSERT_EQ(pair_metrics.size(), 2u);
  ASSERT_EQ(single_metrics.size(), 2u);
  const auto loss_of = [](const std::string& line) {
    const size_t at = line.find("\"train_loss\":");
    return std::stod(line.substr(at + 13));
  };
  EXPECT_NEAR(loss_of(pair_metrics[1]), loss_of(single_metrics[1]), 1e-5);
  const auto top1_of = [](const std::string& text) { return text.substr(text.find("test top-1"), 40); };
  EXPECT_EQ(top1_of(pair.output), top1_of(single.output)) << "evaluation shared between the ranks";

  // Another number of processes does not continue the checkpoint: it says how to.
  fs::remove(folder + "/pair/result.json");
  const auto alone = run_cli("train " + folder + "/vit.toml --output " + folder + "/pair");
  EXPECT_EQ(alone.exit_code, 64) << alone.output;
  EXPECT_NE(alone.output.find("was written by 2 processes training together and this run has 1: resume it with "
                              "--nproc-per-node 2"), std::string::npos) << alone.output;
  const auto again = run_cli("train " + folder + "/vit.toml --output " + folder + "/pair --nproc-per-node 2");
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

// Ranks that cannot start (no NCCL in a CPU build) end the launch with their error and a line naming the rank.
TEST_F(DataParallelTest, ARankThatCannotStartIsNamed) {
  const std::string folder = dmx::test::fresh_folder("dmx_data_parallel_test", "failing");
  dmx::test::write_text(folder + "/vit.toml", vit_config(folder + "/run"));
  const auto launch = run_cli("train " + folder + "/vit.toml --nproc-per-node 2 --dist-backend nccl");
  EXPECT_EQ(launch.exit_code, 1) << launch.output;
  EXPECT_NE(launch.output.find(" of 2 exited with status 1 (its message is above); the other ranks were stopped"),
            std::string::npos) << launch.output;
  EXPECT_NE(launch.output.find("distributed backend nccl is not available in this build of LibTorch"),
            std::string::npos) << launch.output;
}

}  // namespace
