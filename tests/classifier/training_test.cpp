// Training on real Fashion-MNIST: accuracy far above chance, and runs that resume after an interruption or a kill
// ending with exactly the weights of an uninterrupted run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/test_env.hpp"
#include "diffmix/cancellation.hpp"
#include "diffmix/classifier/trainer.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/mixer.hpp"
#include "diffmix/data/sample_rng.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/file_lock.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/registry.hpp"

namespace dmx::classifier {
namespace {

namespace fs = std::filesystem;

std::string fresh_folder(const std::string& name) {
  const auto folder = fs::temp_directory_path() / ("dmx_training_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(folder);
  fs::create_directories(folder);
  return folder.string();
}

// A config and the document its tables point into.
struct ConfiguredRun {
  config::Document document;
  TrainConfig config;
};

ConfiguredRun make_run(const std::string& output, int shots, int epochs, const std::string& augment) {
  const std::string text = "seed = 7\noutput = \"" + output + "\"\n" +
                           "[data]\nshots = " + std::to_string(shots) + "\ntest_per_class = 20\ncrop_padding = 2\n"
                           "mean = [0.286]\nstd = [0.353]\nworkers = 1\n"
                           "[backbone]\narchitecture = \"small_cnn\"\n"
                           "[train]\nepochs = " + std::to_string(epochs) + "\nbatch_size = 16\nlr = 0.05\n"
                           "warmup_epochs = 0.5\nthreads = 1\n" + augment;
  ConfiguredRun run{config::Document::parse_string(text, "test config"), {}};
  run.config = read_train_config(run.document.root());
  run.document.root().finish();
  return run;
}

const char* kMixingAugment =
    "[[augment]]\naugmenter = \"cutmix\"\nalpha = 1.0\nprob = 0.5\n"
    "[[augment]]\naugmenter = \"mixup\"\nalpha = 1.0\nprob = 0.5\n";

void expect_same_weights(const std::string& a_folder, const std::string& b_folder) {
  const auto a = io::SafetensorsFile::open(a_folder + "/model.safetensors");
  const auto b = io::SafetensorsFile::open(b_folder + "/model.safetensors");
  ASSERT_EQ(a.names().size(), b.names().size());
  for (const auto& name : a.names()) EXPECT_TRUE(at::equal(a.tensor(name), b.tensor(name))) << name;
}

// Runs to the end; the step callback may interrupt it (then it is resumed until it finishes).
TrainResult run_to_end(const TrainConfig& config, PluginRegistry& registry, std::function<void(const StepInfo&)> hook) {
  RunOptions options;
  options.on_step = std::move(hook);
  try {
    train_classifier(config, registry, options);
    ADD_FAILURE() << "the run was not interrupted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Cancelled) << e.what();
    clear_cancel();
  }
  return train_classifier(config, registry);
}

class TrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(std::string(data::kFashionMnistDefaultRoot) + "/train-images-idx3-ubyte.gz"))
      GTEST_SKIP() << "Fashion-MNIST is not installed (apt install dataset-fashion-mnist)";
    clear_cancel();
  }
  PluginRegistry registry_;
};

TEST(TrainConfigSynthetic, ModeNamesTheMixingRule) {
  const auto mode_of = [](const std::string& mode) {
    return make_run("unused", 5, 1, "[synthetic]\ncache = \"c\"\nmode = \"" + mode + "\"\n").config.synthetic.mode;
  };
  EXPECT_EQ(mode_of("uniform"), data::MixMode::Uniform);
  EXPECT_EQ(mode_of("balanced"), data::MixMode::Balanced);
  EXPECT_EQ(mode_of("inverse"), data::MixMode::Inverse);
  try {
    mode_of("evened");
    FAIL() << "an unknown mode was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.category(), ErrorCategory::Config);
    EXPECT_NE(std::string(error.what()).find("inverse"), std::string::npos) << error.what();
  }
}

// [data] resize squares the image first (the authors' Resize((512, 512)) before the 448 crop); without it the short
// side goes to image_size. Either way the network sees image_size × image_size.
TEST(TrainTransforms, ResizeSquaresTheImageBeforeTheCrop) {
  DataSettings data;
  data.resize = 32;
  data.image_size = 28;
  const data::Transforms square = test_transforms(data, 28);
  ASSERT_EQ(square.steps().size(), 3u);
  EXPECT_EQ(square.steps()[0].kind, data::TransformStep::Kind::Resize);
  EXPECT_EQ(square.steps()[0].height, 32);
  EXPECT_EQ(square.steps()[0].width, 32);
  EXPECT_EQ(square.steps()[1].kind, data::TransformStep::Kind::CenterCrop);
  data::SampleRng rng(0, data::RandomStream::Transform, 0, 0);
  const at::Tensor wide = at::full({20, 40, 3}, 128, at::kByte);
  EXPECT_EQ(square.apply(wide, rng).sizes(), (std::vector<int64_t>{3, 28, 28}));

  data.resize = 0;
  const data::Transforms short_side = test_transforms(data, 28);
  EXPECT_EQ(short_side.steps()[0].height, 28);
  EXPECT_EQ(short_side.steps()[0].width, 0);  // the short side
  EXPECT_EQ(short_side.apply(wide, rng).sizes(), (std::vector<int64_t>{3, 28, 28}));
}

// The best evaluated epoch: the highest test top-1 among the evaluated epochs, the earliest on a tie.
TEST(TrainResultBest, IsTheHighestEvaluatedEpoch) {
  std::vector<EpochMetrics> history(5);
  const double top1[] = {0.5, 0.7, 0.9, 0.7, 0.8};
  for (int e = 0; e < 5; ++e) {
    history[e].epoch = e + 1;
    history[e].top1 = top1[e];
    history[e].evaluated = e % 2 == 1 || e == 4;  // epochs 2, 4 and the last
  }
  const EpochMetrics* best = best_evaluated_epoch(history);
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(best->epoch, 5);  // epoch 3's 0.9 was never evaluated
  history[4].top1 = 0.7;
  EXPECT_EQ(best_evaluated_epoch(history)->epoch, 2);
  for (auto& epoch : history) epoch.evaluated = false;
  EXPECT_EQ(best_evaluated_epoch(history), nullptr);
}

// A long-tail run reports Many / Medium / Few (the mean per-class accuracy of each group), in its result and in
// result.json, from which a finished run reads them back.
TEST_F(TrainingTest, ALongTailRunReportsManyMediumAndFew) {
  const std::string output = fresh_folder("long_tail");
  const std::string text = "seed = 7\noutput = \"" + output + "\"\n"
                           "[data]\nshots = 40\nimbalance = 20\ntest_per_class = 10\nmean = [0.286]\nstd = [0.353]\n"
                           "[backbone]\narchitecture = \"small_cnn\"\n"
                           "[train]\nepochs = 1\nbatch_size = 16\nlr = 0.05\nthreads = 1\n";
  const auto document = config::Document::parse_string(text, "long-tail config");
  const TrainConfig config = read_train_config(document.root());
  const TrainResult result = train_classifier(config, registry_);
  ASSERT_EQ(result.shot_groups.size(), 3u);
  int64_t classes = 0;
  for (const auto& group : result.shot_groups) classes += group.classes;
  EXPECT_EQ(classes, 10);
  // 40 images in the head class down to 2 in the tail: all three groups are there.
  for (const auto& group : result.shot_groups) EXPECT_GT(group.classes, 0) << data::to_string(group.group);
  const auto groups = data::shot_group_accuracy(data::open_dataset(config.data.train)->class_counts(),
                                                result.per_class, data::paper_shot_thresholds("fashion-mnist"));
  for (size_t g = 0; g < 3; ++g) EXPECT_DOUBLE_EQ(result.shot_groups[g].accuracy, groups[g].accuracy);
  const TrainResult again = train_classifier(config, registry_);
  ASSERT_EQ(again.shot_groups.size(), 3u);
  for (size_t g = 0; g < 3; ++g) {
    EXPECT_EQ(again.shot_groups[g].classes, result.shot_groups[g].classes);
    EXPECT_DOUBLE_EQ(again.shot_groups[g].accuracy, result.shot_groups[g].accuracy);
  }
}

TEST_F(TrainingTest, SmallCnnLearnsFashionMnistFarAboveChance) {
  const std::string output = fresh_folder("accuracy");
  ConfiguredRun run = make_run(output, /*shots=*/100, /*epochs=*/4, "");
  const TrainResult result = train_classifier(run.config, registry_);
  EXPECT_GT(result.top1, 0.6) << "chance is 0.1";
  ASSERT_EQ(result.history.size(), 4u);
  EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss);
  EXPECT_EQ(result.per_class.size(), 10u);
  EXPECT_EQ(result.test_size, 200);
  EXPECT_TRUE(fs::exists(output + "/checkpoint.safetensors"));
  EXPECT_TRUE(fs::exists(output + "/result.json"));
}

TEST_F(TrainingTest, InterruptedMidEpochResumesToTheSameWeights) {
  const std::string straight = fresh_folder("straight");
  ConfiguredRun a = make_run(straight, 10, 2, kMixingAugment);
  const TrainResult reference = train_classifier(a.config, registry_);

  const std::string interrupted = fresh_folder("interrupted");
  ConfiguredRun b = make_run(interrupted, 10, 2, kMixingAugment);
  const TrainResult resumed = run_to_end(b.config, registry_, [](const StepInfo& step) {
    if (step.step == 3) request_cancel();  // during epoch 1
  });
  expect_same_weights(straight, interrupted);
  ASSERT_EQ(resumed.history.size(), 2u);
  for (size_t e = 0; e < 2; ++e) EXPECT_EQ(resumed.history[e].train_loss, reference.history[e].train_loss) << e;
  EXPECT_EQ(resumed.top1, reference.top1);
}

TEST_F(TrainingTest, StoppedAtAnEpochBoundaryResumesToTheSameWeights) {
  const std::string straight = fresh_folder("boundary_straight");
  ConfiguredRun a = make_run(straight, 10, 2, kMixingAugment);
  int64_t batches_per_epoch = 0;
  train_classifier(a.config, registry_, {true, [&](const StepInfo& step) { batches_per_epoch = step.total_steps / 2; }});

  const std::string stopped = fresh_folder("boundary_stopped");
  ConfiguredRun b = make_run(stopped, 10, 2, kMixingAugment);
  run_to_end(b.config, registry_, [&](const StepInfo& step) {
    if (step.step == batches_per_epoch) request_cancel();  // the last step of epoch 1
  });
  expect_same_weights(straight, stopped);
}

TEST_F(TrainingTest, KilledRunRestartsFromTheLastEpochCheckpoint) {
  const std::string straight = fresh_folder("kill_straight");
  const std::string killed = fresh_folder("kill_restart");
  ConfiguredRun a = make_run(straight, 10, 2, kMixingAugment);
  train_classifier(a.config, registry_, {true, [&](const StepInfo& step) {
    if (step.epoch == 1 && step.batch == 1)  // a kill here leaves only the checkpoint of epoch 1 on disk
      fs::copy_file(straight + "/checkpoint.safetensors", killed + "/checkpoint.safetensors");
  }});
  // ... and, when the kill came while a file was being replaced, that file's temporary copy.
  std::ofstream(killed + "/checkpoint.safetensors.tmp-Ab12Cd") << "half a checkpoint";
  ConfiguredRun b = make_run(killed, 10, 2, kMixingAugment);
  train_classifier(b.config, registry_);
  expect_same_weights(straight, killed);
  EXPECT_FALSE(fs::exists(killed + "/checkpoint.safetensors.tmp-Ab12Cd"));
}

TEST_F(TrainingTest, AFolderAnotherProcessTrainsIntoIsBusy) {
  const std::string output = fresh_folder("busy");
  ConfiguredRun run = make_run(output, 10, 1, "");
  const auto lock = io::FileLock::try_acquire(output + "/.lock");
  ASSERT_TRUE(lock.has_value());
  try {
    train_classifier(run.config, registry_);
    FAIL() << "trained into a folder another process holds";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Busy);
    EXPECT_NE(std::string(e.what()).find(output + ": another process is training into this folder"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(TrainingTest, ACheckpointOfOtherSettingsIsNotContinued) {
  const std::string output = fresh_folder("other_settings");
  ConfiguredRun a = make_run(output, 10, 1, "");
  train_classifier(a.config, registry_);
  ConfiguredRun b = make_run(output, 10, 2, "");
  EXPECT_THROW(train_classifier(b.config, registry_), Error);
  RunOptions fresh;
  fresh.resume = false;
  EXPECT_NO_THROW(train_classifier(b.config, registry_, fresh));
}

}  // namespace
}  // namespace dmx::classifier
