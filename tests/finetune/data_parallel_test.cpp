// `diffmix finetune --nproc-per-node 2` as a user runs it: two local ranks on Gloo, each training on its share of
// every batch, reach the LoRA and embeddings one process reaches with the same batch, through an interruption and a
// resume; rank 0 alone writes; a checkpoint is only continued by the same number of processes.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/run_cli.hpp"
#include "common/test_files.hpp"
#include "common/weight_difference.hpp"
#include "diffmix/sd_finetune/artifacts.hpp"
#include "finetune/finetune_fixtures.hpp"

namespace dmx::finetune {
namespace {

namespace fs = std::filesystem;

// Textual inversion and LoRA on 6 images, 3 examples per batch (shares of 2 and 1) in micro-batches of 1. AdamW's
// epsilon is large so that an update is proportional to its gradient: with the default 1e-8 the first updates are
// lr × g / |g|, and a gradient element near zero turns float rounding into a difference of 2 lr.
std::string finetune_config(const std::string& data, const std::string& output, int steps) {
  return "output = \"" + output + "\"\nseed = 5\n"
         "[data]\nkind = \"image-folder\"\nroot = \"" + data + "\"\nmetaclass = \"photo\"\n"
         "[model]\npath = \"" + test::tiny_model_dir() + "\"\n"
         "[finetune]\nstrategy = \"ti+db\"\nsteps = " + std::to_string(steps) + "\nbatch_size = 3\n"
         "micro_batch_size = 1\nresolution = 32\nlora_rank = 2\ninitializer_token = \"photo\"\n"
         "learning_rate = 0.001\nadam_epsilon = 1.0\n";
}

TEST(FinetuneDataParallel, TwoProcessesReachTheWeightsOfOneThroughAResume) {
  const auto folder = test::fresh_dir("data-parallel");
  test::write_image_folder(folder + "/birds", {"crow", "owl", "wren"});
  test::write_text(folder + "/straight.toml", finetune_config(folder + "/birds", folder + "/single", 4));
  const auto single = test::run_cli("finetune " + folder + "/straight.toml");
  ASSERT_EQ(single.exit_code, 0) << single.output;

  // Two processes stop after 2 steps, then go on to 4 from rank 0's checkpoint.
  test::write_text(folder + "/first-half.toml", finetune_config(folder + "/birds", folder + "/pair", 2));
  const auto first = test::run_cli("finetune " + folder + "/first-half.toml --nproc-per-node 2");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("data parallel: 2 processes, 1 to 2 examples of every batch of 3 each"),
            std::string::npos) << first.output;
  EXPECT_EQ(first.output.find("[rank 1] [info]"), std::string::npos) << "rank 1 logs warnings only\n" << first.output;
  const auto second = test::run_cli("finetune " + folder + "/straight.toml --output " + folder +
                                    "/pair --nproc-per-node 2");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("for 4 steps (resumed from 2)"), std::string::npos) << second.output;

  // The ranks run one thread each and the single process two, so the kernels sum in another order: float32
  // rounding, which 4 steps leave near 1e-5 of the LoRA's small weights.
  for (const char* file : {kLoraFile, kEmbeddingsFile}) {
    EXPECT_LT(test::largest_relative_difference(folder + "/single/" + file, folder + "/pair/" + file), 1e-4) << file;
  }
  const auto last_loss = [](const std::string& output) {
    const auto at = output.find("last loss ");
    return at == std::string::npos ? -1.0 : std::stod(output.substr(at + 10));
  };
  EXPECT_NEAR(last_loss(second.output), last_loss(single.output), 1e-4 * last_loss(single.output));

  // One process does not continue two processes' checkpoint: it says how to.
  const auto alone = test::run_cli("finetune " + folder + "/straight.toml --output " + folder + "/pair");
  EXPECT_NE(alone.exit_code, 0) << alone.output;
  EXPECT_NE(alone.output.find("was written by 2 processes fine-tuning together and this run has 1: resume it with "
                              "--nproc-per-node 2"), std::string::npos) << alone.output;
}

}  // namespace
}  // namespace dmx::finetune
