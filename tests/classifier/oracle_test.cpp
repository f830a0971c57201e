// `diffmix oracle`: a classifier trained on real images judges a synthetic cache. Dark and light images make two
// classes any small CNN tells apart; blends from dark toward light at strength s must look more and more light.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/test_env.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/io/image.hpp"
#include "sources/sources_test_files.hpp"
#include "common/run_cli.hpp"

namespace {

namespace fs = std::filesystem;
using dmx::test::read_text;

// A 12×12 RGB image around `level` (0..255) with a little noise.
at::Tensor picture(double level, at::Generator& generator) {
  return (at::full({12, 12, 3}, level) + at::randn({12, 12, 3}, generator) * 12.0).clamp(0, 255).to(at::kByte);
}

void write_dark_and_light_images(const std::string& root) {
  auto generator = at::detail::createCPUGenerator(3);
  for (const char* split : {"train", "test"})
    for (const auto& [name, level] : {std::pair<const char*, double>{"dark", 40.0}, {"light", 215.0}}) {
      fs::create_directories(root + "/" + split + "/" + name);
      for (int i = 0; i < 8; ++i)
        dmx::io::write_image(root + "/" + split + "/" + name + "/" + std::to_string(i) + ".png",
                             picture(level, generator));
    }
}

using dmx::test::run_cli;

TEST(Oracle, RecognisesGeneratedClassesAndSeesMixesMoveTowardTheTarget) {
  const auto dir = dmx::test::fresh_dir("oracle-test", "blends");
  write_dark_and_light_images(dir + "/shades");
  const auto config = dir + "/oracle.toml";
  std::ofstream(config) << "seed = 1\noutput = \"" << dir << "/oracle\"\n"
                        << "[data]\nkind = \"image-folder\"\nroot = \"" << dir << "/shades\"\ncrop_padding = 1\n"
                        << "mean = [0.5]\nstd = [0.3]\n[train]\nepochs = 4\nbatch_size = 4\nlr = 0.05\nthreads = 1\n";

  // Before the oracle is trained there is nothing to judge with.
  dmx::data::SyntheticCacheWriter writer(dir + "/cache");
  auto generator = at::detail::createCPUGenerator(9);
  writer.add(picture(215.0, generator), {"", 1, 1, 1.0, 0, {}});
  EXPECT_EQ(run_cli("oracle " + config + " --cache " + dir + "/cache", dir + "/log.txt"), 66);
  EXPECT_NE(read_text(dir + "/log.txt").find("train the oracle first"), std::string::npos) << read_text(dir + "/log.txt");

  ASSERT_EQ(run_cli("train " + config, dir + "/log.txt"), 0) << read_text(dir + "/log.txt");
  // Generated light images (txt2img: strength 1), and dark images translated toward light at 0.1, 0.5 and 0.9.
  for (int i = 0; i < 3; ++i) writer.add(picture(215.0, generator), {"", 1, 1, 1.0, 0, {}});
  for (const double s : {0.1, 0.5, 0.9})
    for (int i = 0; i < 4; ++i) writer.add(picture(40.0 + s * 175.0, generator), {"", 0, 1, s, 0, {}});

  ASSERT_EQ(run_cli("oracle " + config + " --cache " + dir + "/cache --json " + dir + "/oracle.json", dir + "/log.txt"),
            0)
      << read_text(dir + "/log.txt");
  EXPECT_NE(read_text(dir + "/log.txt").find("16 samples"), std::string::npos) << read_text(dir + "/log.txt");
  const auto report = nlohmann::json::parse(read_text(dir + "/oracle.json")).at(0);
  EXPECT_EQ(report.at("samples"), 16);
  const auto& rows = report.at("by_strength");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_DOUBLE_EQ(rows[3].at("strength").get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(rows[3].at("target_top1").get<double>(), 1.0);  // every generated light image is light
  EXPECT_GT(rows[0].at("source_probability").get<double>(), rows[0].at("target_probability").get<double>());
  for (size_t i = 1; i < 3; ++i)
    EXPECT_GT(rows[i].at("target_probability").get<double>(), rows[i - 1].at("target_probability").get<double>())
        << "P(target) must rise with the strength";
  EXPECT_GT(rows[2].at("target_top1").get<double>(), 0.5);

  // Every sample targets "light"; the ones it misses (the faint translations) it takes for "dark".
  const auto& classes = report.at("by_class");
  ASSERT_EQ(classes.size(), 1u);
  EXPECT_EQ(classes[0].at("class"), "light");
  EXPECT_EQ(classes[0].at("samples"), 16);
  EXPECT_DOUBLE_EQ(classes[0].at("target_top1").get<double>(), report.at("target_top1").get<double>());
  EXPECT_EQ(classes[0].at("mistaken_for"), "dark");
  EXPECT_NEAR(classes[0].at("mistaken_share").get<double>(), 1.0 - report.at("target_top1").get<double>(), 1e-12);
  EXPECT_NE(read_text(dir + "/log.txt").find("most often taken for"), std::string::npos);
}

}  // namespace
