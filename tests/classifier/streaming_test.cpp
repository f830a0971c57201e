// `diffmix train` with a streamed sample source ([synthetic] source = {...}) on a tiny ImageFolder dataset with the
// blend_source test plugin: synchronous runs are reproducible bit for bit, a rerun makes nothing twice, an
// interrupted run resumes to what a straight run gives, and config errors carry their position.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/test_env.hpp"
#include "diffmix/cancellation.hpp"
#include "diffmix/classifier/trainer.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/file_lock.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/registry.hpp"
#include "sources/sources_test_files.hpp"
#include "common/run_cli.hpp"

namespace {

namespace fs = std::filesystem;
using dmx::test::read_text;

std::string fresh_dir(const std::string& name) { return dmx::test::fresh_dir("streaming-train-test", name); }

// <root>/{train,test}/<class>/<i>.png: random 12×12 RGB images, 6 train and 3 test per class.
void write_image_folder(const std::string& root) {
  auto generator = at::detail::createCPUGenerator(5);
  for (const char* split : {"train", "test"})
    for (const char* name : {"heron", "wren"}) {
      fs::create_directories(root + "/" + split + "/" + name);
      for (int i = 0; i < (std::string(split) == "train" ? 6 : 3); ++i)
        dmx::io::write_image(root + "/" + split + "/" + name + "/" + std::to_string(i) + ".png",
                             at::randint(0, 256, {12, 12, 3}, generator, at::kByte));
    }
}

// A 3-epoch run on <dir>/birds streaming 12 samples into `cache`; [synthetic] is last, from line 12 on.
std::string config_text(const std::string& dir, const std::string& output, const std::string& synthetic) {
  return "seed = 4\noutput = \"" + output + "\"\n"
         "[plugins]\npath = [\"" + dmx::test::test_plugin_dir() + "\"]\n"
         "[data]\nkind = \"image-folder\"\nroot = \"" + dir + "/birds\"\ncrop_padding = 2\nworkers = 1\n"
         "[train]\nepochs = 3\nbatch_size = 4\nlr = 0.05\nthreads = 1\n"
         "[synthetic]\n" + synthetic;
}

std::string synchronous_stream(const std::string& cache) {
  return "source = { augmenter = \"blend_source\" }\ncache = \"" + cache + "\"\nprobability = 0.5\n"
         "synchronous = true\ncount = 12\nqueue = 2\n";
}

std::string write_config(const std::string& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir + "/" + name) << text;
  return dir + "/" + name;
}

using dmx::test::run_cli;

// metrics.jsonl without the timing fields.
std::vector<nlohmann::json> metrics_of(const std::string& run) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto json = nlohmann::json::parse(line);
    json.erase("seconds");
    json.erase("images_per_s");
    lines.push_back(json);
  }
  return lines;
}

void expect_same_weights(const std::string& a_run, const std::string& b_run) {
  const auto a = dmx::io::SafetensorsFile::open(a_run + "/model.safetensors");
  const auto b = dmx::io::SafetensorsFile::open(b_run + "/model.safetensors");
  ASSERT_EQ(a.names(), b.names());
  for (const auto& name : a.names()) EXPECT_TRUE(at::equal(a.tensor(name), b.tensor(name))) << name;
}

class StreamingTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    write_image_folder(dir_ + "/birds");
  }
  void TearDown() override { dmx::clear_cancel(); }
  std::string dir_;
};

TEST_F(StreamingTrainTest, SynchronousStreamedRunsAreReproducibleAndARerunMakesNothingTwice) {
  for (const char* run : {"a", "b"}) {
    const auto config = write_config(dir_, std::string(run) + ".toml",
                                     config_text(dir_, dir_ + "/run-" + run, synchronous_stream(dir_ + "/cache-" + run)));
    ASSERT_EQ(run_cli("train " + config, dir_ + "/log.txt"), 0) << read_text(dir_ + "/log.txt");
  }
  EXPECT_NE(read_text(dir_ + "/log.txt").find("streamed samples in " + dir_ + "/cache-b"), std::string::npos)
      << read_text(dir_ + "/log.txt");
  const auto metrics = metrics_of(dir_ + "/run-a");
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_EQ(metrics, metrics_of(dir_ + "/run-b"));
  expect_same_weights(dir_ + "/run-a", dir_ + "/run-b");

  const auto manifest = read_text(dir_ + "/cache-a/manifest.jsonl");
  EXPECT_EQ(manifest, read_text(dir_ + "/cache-b/manifest.jsonl"));
  const auto cache = dmx::data::SyntheticCache::open(dir_ + "/cache-a", 2);
  EXPECT_GE(cache->size(), 6);  // the last epoch used min(12, 2·6) samples
  EXPECT_LE(cache->size(), 12);

  // Training again from scratch on the same cache reuses it: the samples already there are not made again.
  ASSERT_EQ(run_cli("train --fresh " + dir_ + "/a.toml", dir_ + "/log.txt"), 0) << read_text(dir_ + "/log.txt");
  EXPECT_EQ(read_text(dir_ + "/cache-a/manifest.jsonl").substr(0, manifest.size()), manifest);
  std::set<uint64_t> seeds;
  const auto reopened = dmx::data::SyntheticCache::open(dir_ + "/cache-a", 2);
  for (const auto& record : reopened->records())
    EXPECT_TRUE(seeds.insert(record.seed).second) << "sample with seed " << record.seed << " made twice";
  EXPECT_EQ(metrics_of(dir_ + "/run-a"), metrics);
}

TEST_F(StreamingTrainTest, AnInterruptedStreamedRunResumesToTheStraightRunsResult) {
  dmx::RegistryOptions registry_options;
  registry_options.search_paths = {dmx::test::test_plugin_dir()};
  dmx::PluginRegistry registry(registry_options);
  auto run = [&](const std::string& name, int64_t stop_at_step) {
    const auto document = dmx::config::Document::parse_string(
        config_text(dir_, dir_ + "/run-" + name, synchronous_stream(dir_ + "/cache-" + name)), name + ".toml");
    const auto config = dmx::classifier::read_train_config(document.root());
    document.root().finish();
    dmx::classifier::RunOptions options;
    options.on_step = [stop_at_step](const dmx::classifier::StepInfo& info) {
      if (info.step == stop_at_step) dmx::request_cancel();
    };
    try {
      dmx::classifier::train_classifier(config, registry, options);
      EXPECT_LT(stop_at_step, 0) << "the run was not interrupted";
    } catch (const dmx::Error& error) {
      EXPECT_EQ(error.category(), dmx::ErrorCategory::Cancelled) << error.what();
      dmx::clear_cancel();
      EXPECT_GT(dmx::data::SyntheticCache::open(dir_ + "/cache-" + name, 2)->size(), 0);  // valid, and resumable
      options.on_step = nullptr;
      dmx::classifier::train_classifier(config, registry, options);
    }
  };
  run("straight", -1);
  run("interrupted", 4);  // epoch 2 of 3, which already draws streamed samples
  expect_same_weights(dir_ + "/run-straight", dir_ + "/run-interrupted");
  const auto straight = read_text(dir_ + "/cache-straight/manifest.jsonl");
  const auto interrupted = read_text(dir_ + "/cache-interrupted/manifest.jsonl");
  const size_t common = std::min(straight.size(), interrupted.size());
  EXPECT_EQ(straight.substr(0, common), interrupted.substr(0, common));  // the same samples, none twice
}

TEST_F(StreamingTrainTest, AStreamedSourceWithoutACacheIsAConfigErrorAtTheSourceKey) {
  const auto config = write_config(dir_, "train.toml",
                                   config_text(dir_, dir_ + "/run", "probability = 0.5\n"
                                                                    "source = { augmenter = \"blend_source\" }\n"));
  EXPECT_EQ(run_cli("train " + config, dir_ + "/log.txt"), 78);
  const auto log = read_text(dir_ + "/log.txt");
  EXPECT_NE(log.find("train.toml:17:10: a streamed [synthetic] source needs `cache`"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(dir_ + "/run/metrics.jsonl"));
}

TEST_F(StreamingTrainTest, StreamKeysWithoutASourceAndTyposInTheSourceAreConfigErrors) {
  auto config = write_config(dir_, "keys.toml", config_text(dir_, dir_ + "/run", "cache = \"x\"\nsynchronous = true\n"));
  EXPECT_EQ(run_cli("train " + config, dir_ + "/log.txt"), 78);
  EXPECT_NE(read_text(dir_ + "/log.txt").find("keys.toml:17:15: 'synchronous' applies to a streamed source only"),
            std::string::npos)
      << read_text(dir_ + "/log.txt");

  config = write_config(dir_, "typo.toml", config_text(dir_, dir_ + "/run",
                                                       "cache = \"" + dir_ + "/cache\"\n[synthetic.source]\n"
                                                       "augmenter = \"blend_source\"\nmdoe = \"copy\"\n"));
  EXPECT_EQ(run_cli("train " + config, dir_ + "/log.txt"), 78);
  EXPECT_NE(read_text(dir_ + "/log.txt").find("typo.toml:19:1: unknown key 'mdoe' in [synthetic.source]"),
            std::string::npos)
      << read_text(dir_ + "/log.txt");
}

// One comparison sets a streamed source against real data alone: the set-up's `synthetic` table streams into its own
// cache per seed; the other set-up has no synthetic data at all.
TEST_F(StreamingTrainTest, ACompareSetUpStreamsFromItsOwnSyntheticTable) {
  std::string text = config_text(dir_, dir_ + "/out", "");
  text = text.substr(0, text.rfind("[synthetic]"));
  text += "[compare]\nseeds = [0]\n[[compare.setup]]\nname = \"none\"\n[[compare.setup]]\nname = \"blend\"\n"
          "synthetic = { source = { augmenter = \"blend_source\" }, cache = \"" + dir_ + "/cache\", "
          "probability = 0.5, synchronous = true, count = 6 }\n";
  const auto config = write_config(dir_, "compare.toml", text);
  ASSERT_EQ(run_cli("compare " + config, dir_ + "/log.txt"), 0) << read_text(dir_ + "/log.txt");
  EXPECT_EQ(dmx::data::SyntheticCache::open(dir_ + "/cache/seed-0", 2)->size(), 6);
  const auto log = read_text(dir_ + "/log.txt");
  EXPECT_NE(log.find("blend"), std::string::npos) << log;
  EXPECT_EQ(metrics_of(dir_ + "/out/none/seed-0").size(), 3u);
  EXPECT_EQ(metrics_of(dir_ + "/out/blend/seed-0").size(), 3u);
}

// A finished run is read back from result.json: its dataset and sample source are not needed again (and a source
// that fine-tunes is not even created).
TEST_F(StreamingTrainTest, AFinishedRunIsReadBackWithoutItsDataOrItsSource) {
  const auto document = dmx::config::Document::parse_string(
      config_text(dir_, dir_ + "/run", synchronous_stream(dir_ + "/cache")), "train.toml");
  const auto config = dmx::classifier::read_train_config(document.root());
  document.root().finish();
  dmx::RegistryOptions with_plugins;
  with_plugins.search_paths = {dmx::test::test_plugin_dir()};
  dmx::PluginRegistry registry(with_plugins);
  const auto first = dmx::classifier::train_classifier(config, registry);

  fs::rename(dir_ + "/birds", dir_ + "/moved-away");
  dmx::RegistryOptions no_plugins;
  no_plugins.use_environment = false;
  no_plugins.use_install_dir = false;
  dmx::PluginRegistry empty_registry(no_plugins);
  const auto again = dmx::classifier::train_classifier(config, empty_registry);
  EXPECT_EQ(again.top1, first.top1);
  EXPECT_EQ(again.per_class, first.per_class);
  EXPECT_EQ(again.class_names, first.class_names);
  ASSERT_EQ(again.history.size(), 3u);
  EXPECT_EQ(again.history.back().top1, first.history.back().top1);

  // Other settings are another run: it needs its data again.
  auto changed = config;
  changed.optim.epochs = 4;
  EXPECT_THROW(dmx::classifier::train_classifier(changed, empty_registry), dmx::Error);
}

// `compare --jobs 2` runs the matrix in worker processes and gives what the sequential comparison gives. Two set-ups
// stream into one shared cache: while another process writes it (here: the test holds its lock), their runs are
// sent back as busy and retried until the folder is free.
TEST_F(StreamingTrainTest, AParallelComparisonMatchesTheSequentialOneAndWaitsForABusyCache) {
  auto compare_config = [&](const std::string& name) {
    std::string text = config_text(dir_, dir_ + "/out-" + name, "");
    text = text.substr(0, text.rfind("[synthetic]"));
    const std::string stream = "source = { augmenter = \"blend_source\" }, cache = \"" + dir_ + "/cache-" + name +
                               "\", probability = 0.5, synchronous = true, count = 6";
    text += "[compare]\nseeds = [0, 1]\n[[compare.setup]]\nname = \"none\"\n"
            "[[compare.setup]]\nname = \"blend\"\nsynthetic = { " + stream + " }\n"
            "[[compare.setup]]\nname = \"blend+cutmix\"\nsynthetic = { " + stream + " }\n"
            "augment = [{ augmenter = \"cutmix\", alpha = 1.0, prob = 0.5 }]\n";
    return write_config(dir_, name + ".toml", text);
  };
  ASSERT_EQ(run_cli("compare " + compare_config("sequential"), dir_ + "/sequential.log"), 0)
      << read_text(dir_ + "/sequential.log");

  auto lock = dmx::io::FileLock::try_acquire(dir_ + "/cache-parallel/seed-0/.lock");
  ASSERT_TRUE(lock.has_value());
  int status = -1;
  std::thread compare([&] { status = run_cli("compare --jobs 2 " + compare_config("parallel"), dir_ + "/parallel.log"); });
  // Hold the cache until a run of seed 0 has been sent back, then let it go.
  for (int i = 0; i < 1200 && read_text(dir_ + "/parallel.log").find("must wait") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  lock.reset();
  compare.join();
  const auto log = read_text(dir_ + "/parallel.log");
  ASSERT_EQ(status, 0) << log;
  EXPECT_NE(log.find("blend seed 0 must wait: diffmix: busy: " + dir_ + "/cache-parallel/seed-0"), std::string::npos)
      << log;
  EXPECT_NE(log.find("[compare] 6/6 finished"), std::string::npos) << log;

  for (const char* setup : {"none", "blend", "blend+cutmix"})
    for (const char* seed : {"seed-0", "seed-1"}) {
      const std::string run = std::string("/") + setup + "/" + seed;
      EXPECT_EQ(metrics_of(dir_ + "/out-parallel" + run), metrics_of(dir_ + "/out-sequential" + run)) << run;
      expect_same_weights(dir_ + "/out-parallel" + run, dir_ + "/out-sequential" + run);
      EXPECT_TRUE(fs::exists(dir_ + "/out-parallel" + run + "/run.log")) << run;
    }
  EXPECT_EQ(read_text(dir_ + "/cache-parallel/seed-1/manifest.jsonl"),
            read_text(dir_ + "/cache-sequential/seed-1/manifest.jsonl"));
  EXPECT_EQ(read_text(dir_ + "/out-parallel/summary.md"), read_text(dir_ + "/out-sequential/summary.md"));
}

}  // namespace
