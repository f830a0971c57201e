// `diffmix synthesize CONFIG` end to end on a tiny ImageFolder dataset with the blend_source test plugin: the cache
// it writes, a resume after a kill, and config errors with their positions.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../common/test_env.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/io/image.hpp"
#include "sd/sd_fixtures.hpp"
#include "sources_test_files.hpp"
#include "common/run_cli.hpp"

namespace {

namespace fs = std::filesystem;

std::string fresh_cli_dir(const std::string& name) { return dmx::test::fresh_dir("synthesize-cli-test", name); }
using dmx::test::read_text;

// <root>/train/<class>/<i>.png: 3 random 12×10 RGB images per class, 6 in all.
void write_image_folder(const std::string& root) {
  auto generator = at::detail::createCPUGenerator(5);
  for (const char* name : {"heron", "wren"}) {
    fs::create_directories(root + "/train/" + name);
    for (int i = 0; i < 3; ++i)
      dmx::io::write_image(root + "/train/" + name + "/" + std::to_string(i) + ".png",
                           at::randint(0, 256, {12, 10, 3}, generator, at::kByte));
  }
}

// A config for the dataset in <dir>/birds. `amount` is the count or multiplier line(s) of [synthesis] (line 8 on);
// `source_keys` are extra lines of [synthesis.source], which starts on line 10 when `amount` is one line.
std::string write_config(const std::string& dir, const std::string& output, const std::string& amount,
                         const std::string& source_keys = "") {
  const auto path = dir + "/synth.toml";
  std::ofstream(path) << "[plugins]\npath = [\"" << dmx::test::test_plugin_dir() << "\"]\n"
                      << "[data]\nkind = \"image-folder\"\nroot = \"" << dir << "/birds\"\n"
                      << "[synthesis]\noutput = \"" << output << "\"\n"
                      << amount << "\nseed = 3\n"
                      << "[synthesis.source]\naugmenter = \"blend_source\"\n"
                      << source_keys;
  return path;
}

using dmx::test::run_cli;

TEST(SynthesizeCli, FillsACacheFromAnImageFolder) {
  const auto dir = fresh_cli_dir("basic");
  write_image_folder(dir + "/birds");
  const auto config = write_config(dir, dir + "/cache", "multiplier = 2");
  ASSERT_EQ(run_cli("synthesize " + config, dir + "/log.txt"), 0) << read_text(dir + "/log.txt");
  const auto log = read_text(dir + "/log.txt");
  EXPECT_NE(log.find("12 samples by blend_source in " + dir + "/cache"), std::string::npos) << log;
  const auto cache = dmx::data::SyntheticCache::open(dir + "/cache", 2);
  ASSERT_EQ(cache->size(), 12);
  EXPECT_EQ(cache->load_image(0).sizes(), (at::IntArrayRef{12, 10, 3}));

  // Running it again finds every sample done and changes nothing.
  const auto manifest = read_text(dir + "/cache/manifest.jsonl");
  ASSERT_EQ(run_cli("synthesize " + config, dir + "/log2.txt"), 0) << read_text(dir + "/log2.txt");
  EXPECT_EQ(read_text(dir + "/cache/manifest.jsonl"), manifest);
}

TEST(SynthesizeCli, AKilledRunResumesToTheSameCache) {
  const auto dir = fresh_cli_dir("resume");
  write_image_folder(dir + "/birds");
  ASSERT_EQ(run_cli("synthesize " + write_config(dir, dir + "/straight", "count = 8"), dir + "/log.txt"), 0)
      << read_text(dir + "/log.txt");
  ASSERT_EQ(run_cli("synthesize " + write_config(dir, dir + "/killed", "count = 8"), dir + "/log.txt"), 0)
      << read_text(dir + "/log.txt");
  // What a kill during sample 5 leaves: five complete lines and half of the sixth, whose image is on disk.
  const std::string straight = read_text(dir + "/straight/manifest.jsonl");
  size_t cut = 0;
  for (int line = 0; line < 5; ++line) cut = straight.find('\n', cut) + 1;
  const size_t sixth_end = straight.find('\n', cut);
  std::ofstream(dir + "/killed/manifest.jsonl", std::ios::binary | std::ios::trunc)
      << straight.substr(0, cut + (sixth_end - cut) / 2);
  for (int i = 6; i < 8; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "/images/%06d.png", i);
    fs::remove(dir + "/killed" + name);
  }

  ASSERT_EQ(run_cli("synthesize " + write_config(dir, dir + "/killed", "count = 8"), dir + "/log.txt"), 0)
      << read_text(dir + "/log.txt");
  EXPECT_EQ(read_text(dir + "/killed/manifest.jsonl"), straight);
  for (int i = 0; i < 8; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "/images/%06d.png", i);
    EXPECT_EQ(read_text(dir + "/killed" + name), read_text(dir + "/straight" + name)) << name;
  }
}

TEST(SynthesizeCli, ATypoInTheSourceTableIsReportedWithItsPosition) {
  const auto dir = fresh_cli_dir("typo");
  write_image_folder(dir + "/birds");
  const auto config = write_config(dir, dir + "/cache", "count = 4", "mdoe = \"copy\"\n");
  EXPECT_EQ(run_cli("synthesize " + config, dir + "/log.txt"), 78);
  const auto log = read_text(dir + "/log.txt");
  EXPECT_NE(log.find("synth.toml:12:1: unknown key 'mdoe' in [synthesis.source]; did you mean 'mode'?"),
            std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(dir + "/cache"));
}

TEST(SynthesizeCli, CountAndMultiplierTogetherIsAConfigError) {
  const auto dir = fresh_cli_dir("both");
  write_image_folder(dir + "/birds");
  const auto config = write_config(dir, dir + "/cache", "count = 4\nmultiplier = 2");
  EXPECT_EQ(run_cli("synthesize " + config, dir + "/log.txt"), 78);
  const auto log = read_text(dir + "/log.txt");
  EXPECT_NE(log.find("synth.toml:9:14: give either `count` or `multiplier`"), std::string::npos) << log;
}

TEST(SynthesizeCli, AnAugmenterThatIsNotASampleSourceIsRefused) {
  const auto dir = fresh_cli_dir("role");
  write_image_folder(dir + "/birds");
  const auto config = write_config(dir, dir + "/cache", "count = 4");
  std::string text = read_text(config);
  text.replace(text.find("\"blend_source\""), 14, "\"cutmix\"");
  std::ofstream(config) << text;
  const std::string command = "DIFFMIX_PLUGIN_PATH=" + dmx::test::plugin_dir() + " " + dmx::test::cli_path() +
                              " synthesize " + config + " > " + dir + "/log.txt 2>&1";
  const int status = std::system(command.c_str());
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 78);
  const auto log = read_text(dir + "/log.txt");
  EXPECT_NE(log.find("is a batch augmenter, but a sample source is needed"), std::string::npos) << log;
}

// The CLIP filter over the finished cache, then training on what it kept: [synthesis.filter] writes
// manifest.filtered.jsonl with 90 % of the samples, and [synthetic] filtered = true trains on exactly those.
TEST(SynthesizeCli, TheClipFilterKeepsNinetyPercentAndTrainingReadsThem) {
  const auto dir = fresh_cli_dir("filter");
  write_image_folder(dir + "/birds");
  fs::copy(dir + "/birds/train", dir + "/birds/test", fs::copy_options::recursive);
  const auto config = dir + "/synth.toml";
  std::ofstream(config) << "[plugins]\npath = [\"" << dmx::test::test_plugin_dir() << "\"]\n"
                        << "[data]\nkind = \"image-folder\"\nroot = \"" << dir << "/birds\"\nmetaclass = \"bird\"\n"
                        << "[synthesis]\noutput = \"" << dir << "/cache\"\ncount = 20\nseed = 3\n"
                        << "[synthesis.source]\naugmenter = \"blend_source\"\n"
                        << "[synthesis.filter]\nclip = \"" << dmx::test::sd_fixture_dir() << "/clip\"\nbatch_size = 8\n";
  ASSERT_EQ(run_cli("synthesize " + config, dir + "/log.txt"), 0) << read_text(dir + "/log.txt");
  const auto log = read_text(dir + "/log.txt");
  EXPECT_NE(log.find("kept 18 of 20 samples"), std::string::npos) << log;
  EXPECT_EQ(dmx::data::SyntheticCache::open(dir + "/cache", 2)->size(), 20);  // manifest.jsonl is untouched
  dmx::data::SyntheticCacheOptions filtered;
  filtered.manifest = dmx::data::kFilteredManifestFileName;
  EXPECT_EQ(dmx::data::SyntheticCache::open(dir + "/cache", 2, filtered)->size(), 18);

  const auto train_config = dir + "/train.toml";
  std::ofstream(train_config) << "output = \"" << dir << "/run\"\n"
                              << "[data]\nkind = \"image-folder\"\nroot = \"" << dir << "/birds\"\nimage_size = 8\n"
                              << "[synthetic]\ncache = \"" << dir << "/cache\"\nfiltered = true\n"
                              << "[train]\nepochs = 1\nbatch_size = 6\nthreads = 1\n";
  ASSERT_EQ(run_cli("train " + train_config, dir + "/train_log.txt"), 0) << read_text(dir + "/train_log.txt");
  const auto train_log = read_text(dir + "/train_log.txt");
  EXPECT_NE(train_log.find("synthetic: 18 samples from " + dir + "/cache (CLIP-filtered)"), std::string::npos)
      << train_log;
}

}  // namespace
