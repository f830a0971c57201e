// `diffmix synthesize` with the diffusion plugin on the tiny Stable Diffusion fixture: Diff-Mix end to end (fine-tuned
// in prepare), Real-Filtering (real_gen + the CLIP filter), and a run killed with SIGKILL at random moments that
// resumes to exactly the cache an uninterrupted run writes.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "../common/test_env.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/io/image.hpp"
#include "diffusion_plugin_fixtures.hpp"
#include "common/run_cli.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string fresh_cli_dir(const std::string& name) { return dmx::test::fresh_plugin_test_dir("cli", name); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// <root>/train/<class>/<i>.png: two random RGB images per class, of several sizes.
void write_image_folder(const std::string& root) {
  auto generator = at::detail::createCPUGenerator(9);
  int64_t size = 10;
  for (const char* name : {"heron", "kestrel", "wren"}) {
    fs::create_directories(root + "/train/" + name);
    for (int i = 0; i < 2; ++i, size += 3)
      dmx::io::write_image(root + "/train/" + name + "/" + std::to_string(i) + ".png",
                           at::randint(0, 256, {size, 24 - size / 2, 3}, generator, at::kByte));
  }
}

// A synthesize config over <dir>/birds with the tiny model; `source` and `rest` are appended to [synthesis.source]
// and after it.
std::string write_config(const std::string& dir, const std::string& name, const std::string& output, int64_t count,
                         const std::string& augmenter, const std::string& source = "", const std::string& rest = "") {
  const auto path = dir + "/" + name + ".toml";
  std::ofstream(path) << "[data]\nkind = \"image-folder\"\nroot = \"" << dir << "/birds\"\nmetaclass = \"photo\"\n"
                      << "[synthesis]\noutput = \"" << output << "\"\ncount = " << count << "\nseed = 5\n"
                      << "[synthesis.source]\naugmenter = \"" << augmenter << "\"\nmodel = \""
                      << dmx::test::tiny_model_dir() << "\"\nresolution = 32\nsteps = 10\nbatch_size = 2\n"
                      << source << rest;
  return path;
}

using dmx::test::run_cli;

// Starts `diffmix synthesize config` as a child process with its output in `log`.
pid_t spawn_synthesize(const std::string& config, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const std::string cli = dmx::test::cli_path();
  std::vector<char*> argv = {const_cast<char*>(cli.c_str()), const_cast<char*>("synthesize"),
                             const_cast<char*>(config.c_str()), nullptr};
  pid_t pid = -1;
  const int error = posix_spawn(&pid, cli.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return error == 0 ? pid : -1;
}

TEST(DiffusionSynthesize, DiffMixFineTunesThenFillsTheCache) {
  const auto dir = fresh_cli_dir("diffmix");
  write_image_folder(dir + "/birds");
  const auto config = write_config(dir, "diffmix", dir + "/cache", 8, "diff_mix",
                                   "finetuned = \"" + dir + "/ft\"\ngamma = 0.5\n",
                                   "[synthesis.source.finetune]\nsteps = 2\nbatch_size = 2\nresolution = 32\n");
  ASSERT_EQ(run_cli("synthesize " + config, dir + "/log.txt"), 0) << read_file(dir + "/log.txt");
  EXPECT_TRUE(fs::exists(dir + "/ft/finetune_manifest.json"));
  const auto cache = dmx::data::SyntheticCache::open(dir + "/cache", 3);
  ASSERT_EQ(cache->size(), 8);
  for (int64_t k = 0; k < cache->size(); ++k) {
    const auto& record = cache->record(k);
    EXPECT_TRUE(record.strength == 0.5 || record.strength == 0.7 || record.strength == 0.9) << record.strength;
    const auto expected = dmx::data::diffmix_soft_label(record.source_class, record.target_class, record.strength, 3);
    EXPECT_TRUE(at::allclose(cache->soft_label(k), expected)) << "sample " << k;
    EXPECT_EQ(cache->load_image(k, {0, 0}).size(2), 3);
  }
}

TEST(DiffusionSynthesize, RealFilteringIsRealGenWithTheClipFilter) {
  const auto dir = fresh_cli_dir("real-filtering");
  write_image_folder(dir + "/birds");
  const auto config = write_config(dir, "filter", dir + "/cache", 10, "real_gen", "",
                                   "[synthesis.filter]\nclip = \"" + dmx::test::sd_fixture_dir() + "/clip\"\n");
  ASSERT_EQ(run_cli("synthesize " + config, dir + "/log.txt"), 0) << read_file(dir + "/log.txt");
  const auto log = read_file(dir + "/log.txt");
  EXPECT_NE(log.find("kept 9 of 10 samples"), std::string::npos) << log;
  dmx::data::SyntheticCacheOptions options;
  options.manifest = dmx::data::kFilteredManifestFileName;
  EXPECT_EQ(dmx::data::SyntheticCache::open(dir + "/cache", 3, options)->size(), 9);
}

// Both caches hold the same manifest and the same image files, byte for byte.
void expect_same_cache(const std::string& a, const std::string& b, size_t count) {
  EXPECT_EQ(read_file(a + "/manifest.jsonl"), read_file(b + "/manifest.jsonl"));
  std::vector<std::string> a_files, b_files;
  for (const auto& entry : fs::directory_iterator(a + "/images")) a_files.push_back(entry.path().filename());
  for (const auto& entry : fs::directory_iterator(b + "/images")) b_files.push_back(entry.path().filename());
  std::sort(a_files.begin(), a_files.end());
  std::sort(b_files.begin(), b_files.end());
  ASSERT_EQ(a_files.size(), count);
  EXPECT_EQ(b_files, a_files);
  for (const auto& name : a_files)
    EXPECT_EQ(read_file(b + "/images/" + name), read_file(a + "/images/" + name)) << name;
}

// The cache is the whole state of a synthesis: a SIGKILL at any moment loses at most the sample being written, and
// the rerun writes exactly the files an uninterrupted run writes, byte for byte, with none twice.
TEST(DiffusionSynthesize, SigkillAtRandomMomentsThenResumeEndsByteIdentical) {
  const auto dir = fresh_cli_dir("sigkill");
  write_image_folder(dir + "/birds");
  constexpr int64_t kCount = 16;
  const auto straight_config = write_config(dir, "straight", dir + "/straight", kCount, "real_mix");
  const auto start = Clock::now();
  ASSERT_EQ(run_cli("synthesize " + straight_config, dir + "/straight.txt"), 0) << read_file(dir + "/straight.txt");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  const auto killed_config = write_config(dir, "killed", dir + "/killed", kCount, "real_mix");
  const unsigned seed = static_cast<unsigned>(std::random_device{}());
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> moment(0.05 * seconds, 0.95 * seconds);
  std::string kills = "random seed " + std::to_string(seed) + ", killed after";
  for (int round = 0; round < 3; ++round) {
    const double delay = moment(random);
    kills += " " + std::to_string(delay) + " s";
    const pid_t child = spawn_synthesize(killed_config, dir + "/killed.txt");
    ASSERT_GT(child, 0);
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
  }
  ASSERT_EQ(run_cli("synthesize " + killed_config, dir + "/resumed.txt"), 0) << read_file(dir + "/resumed.txt");

  SCOPED_TRACE(kills);
  expect_same_cache(dir + "/straight", dir + "/killed", kCount);
}

// A run spread over two workers merges into the cache one process writes: with --nproc-per-node 2 (rank 0 merges),
// and shard by shard as on two hosts, where a worker that died is run again alone and resumes its shard.
TEST(DiffusionSynthesize, ShardedSynthesisMergesIntoTheSingleProcessCache) {
  const auto dir = fresh_cli_dir("shards");
  write_image_folder(dir + "/birds");
  constexpr int64_t kCount = 9;  // shards [0, 5) and [5, 9): the second starts inside the block [4, 6)
  const auto straight = write_config(dir, "straight", dir + "/straight", kCount, "real_mix");
  ASSERT_EQ(run_cli("synthesize " + straight, dir + "/straight.txt"), 0) << read_file(dir + "/straight.txt");

  const auto ranks = write_config(dir, "ranks", dir + "/ranks", kCount, "real_mix");
  ASSERT_EQ(run_cli("synthesize " + ranks + " --nproc-per-node 2", dir + "/ranks.txt"), 0)
      << read_file(dir + "/ranks.txt");
  EXPECT_NE(read_file(dir + "/ranks.txt").find("9 samples by real_mix in " + dir + "/ranks"), std::string::npos)
      << read_file(dir + "/ranks.txt");
  expect_same_cache(dir + "/straight", dir + "/ranks", kCount);
  EXPECT_FALSE(fs::exists(dir + "/ranks/shards")) << "merged shards are removed";

  const auto hosts = write_config(dir, "hosts", dir + "/hosts", kCount, "real_mix");
  EXPECT_EQ(run_cli("synthesize " + hosts + " --shard 2/2", dir + "/bad-shard.txt"), 78);
  EXPECT_NE(read_file(dir + "/bad-shard.txt").find("--shard '2/2' is not a shard"), std::string::npos)
      << read_file(dir + "/bad-shard.txt");
  ASSERT_EQ(run_cli("synthesize " + hosts + " --shard 1/2", dir + "/one.txt"), 0) << read_file(dir + "/one.txt");
  EXPECT_NE(run_cli("synthesize " + hosts + " --merge", dir + "/missing.txt"), 0);
  EXPECT_NE(read_file(dir + "/missing.txt").find("shard 0/2 (" + dir + "/hosts/shards/0-of-2) is missing: run "
                                                 "`diffmix synthesize CONFIG --shard 0/2`"),
            std::string::npos) << read_file(dir + "/missing.txt");
  ASSERT_EQ(run_cli("synthesize " + hosts + " --shard 0/2", dir + "/zero.txt"), 0) << read_file(dir + "/zero.txt");

  // Shard 1's worker died before its last sample: the merge names it, and running it again finishes it.
  const std::string shard_manifest = dir + "/hosts/shards/1-of-2/manifest.jsonl";
  std::string lines = read_file(shard_manifest);
  lines.erase(lines.rfind('\n', lines.size() - 2) + 1);
  std::ofstream(shard_manifest, std::ios::trunc) << lines;
  EXPECT_NE(run_cli("synthesize " + hosts + " --merge", dir + "/unfinished.txt"), 0);
  EXPECT_NE(read_file(dir + "/unfinished.txt").find("holds 3 of its 4 samples: run `diffmix synthesize CONFIG "
                                                    "--shard 1/2`"),
            std::string::npos) << read_file(dir + "/unfinished.txt");
  ASSERT_EQ(run_cli("synthesize " + hosts + " --shard 1/2", dir + "/again.txt"), 0) << read_file(dir + "/again.txt");
  EXPECT_NE(read_file(dir + "/again.txt").find("resuming after 3 samples"), std::string::npos)
      << read_file(dir + "/again.txt");
  ASSERT_EQ(run_cli("synthesize " + hosts + " --merge", dir + "/merge.txt"), 0) << read_file(dir + "/merge.txt");
  expect_same_cache(dir + "/straight", dir + "/hosts", kCount);
}

// <root>/test/<class>/<i>.png: one random image per class, for the training runs' evaluation.
void write_test_split(const std::string& root) {
  auto generator = at::detail::createCPUGenerator(10);
  for (const char* name : {"heron", "kestrel", "wren"}) {
    fs::create_directories(root + "/test/" + name);
    dmx::io::write_image(root + "/test/" + name + "/0.png", at::randint(0, 256, {14, 14, 3}, generator, at::kByte));
  }
}

// The weights file of a run, or the metrics without their timing fields: what must repeat bit for bit.
std::string metrics_without_timing(const std::string& run) {
  std::ifstream in(run + "/metrics.jsonl");
  std::string out;
  for (std::string line; std::getline(in, line);) {
    for (const char* key : {"\"seconds\":", "\"images_per_s\":"}) {
      const size_t at = line.find(key);
      if (at == std::string::npos) continue;
      const size_t end = line.find_first_of(",}", at);
      line.erase(at, end - at + (line[end] == ',' ? 1 : 0));
    }
    out += line + "\n";
  }
  return out;
}

// `diffmix train` streaming real_mix samples from the tiny model while it trains: with synchronous = true two runs
// see the same samples at the same steps and end with the same weights.
TEST(DiffusionSynthesize, SynchronousStreamedTrainingIsReproducible) {
  const auto dir = fresh_cli_dir("stream-train");
  write_image_folder(dir + "/birds");
  write_test_split(dir + "/birds");
  for (const char* run : {"a", "b"}) {
    const auto config = dir + "/" + run + ".toml";
    std::ofstream(config) << "seed = 2\noutput = \"" << dir << "/run-" << run << "\"\n"
                          << "[data]\nkind = \"image-folder\"\nroot = \"" << dir << "/birds\"\n"
                          << "metaclass = \"photo\"\nimage_size = 16\ncrop_padding = 2\nworkers = 1\n"
                          << "[train]\nepochs = 3\nbatch_size = 3\nlr = 0.05\nthreads = 1\n"
                          << "[synthetic]\ncache = \"" << dir << "/cache-" << run << "\"\nprobability = 0.5\n"
                          << "synchronous = true\ncount = 6\n"
                          << "source = { augmenter = \"real_mix\", model = \"" << dmx::test::tiny_model_dir()
                          << "\", resolution = 32, steps = 10, batch_size = 2 }\n";
    ASSERT_EQ(run_cli("train " + config, dir + "/log.txt"), 0) << read_file(dir + "/log.txt");
  }
  EXPECT_EQ(metrics_without_timing(dir + "/run-a"), metrics_without_timing(dir + "/run-b"));
  EXPECT_EQ(read_file(dir + "/run-a/model.safetensors"), read_file(dir + "/run-b/model.safetensors"));
  EXPECT_EQ(read_file(dir + "/cache-a/manifest.jsonl"), read_file(dir + "/cache-b/manifest.jsonl"));
  const auto cache = dmx::data::SyntheticCache::open(dir + "/cache-a", 3);
  ASSERT_GE(cache->size(), 3);
  for (int64_t k = 0; k < cache->size(); ++k) {
    const auto& record = cache->record(k);
    const auto expected = dmx::data::diffmix_soft_label(record.source_class, record.target_class, record.strength, 3);
    EXPECT_TRUE(at::allclose(cache->soft_label(k), expected, 1e-5, 1e-6)) << "sample " << k;
  }
}

TEST(DiffusionSynthesize, PluginsListsTheDiffusionAugmenters) {
  const auto dir = fresh_cli_dir("list");
  ASSERT_EQ(run_cli("plugins", dir + "/log.txt"), 0) << read_file(dir + "/log.txt");
  const auto log = read_file(dir + "/log.txt");
  for (const char* name : {"real_gen", "real_aug", "real_mix", "da_fusion", "diff_gen", "diff_aug", "diff_mix"})
    EXPECT_NE(log.find(name), std::string::npos) << name << "\n" << log;
}

}  // namespace
