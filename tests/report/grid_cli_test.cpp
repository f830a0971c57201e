// `diffmix grid` end to end: a contact sheet of a small cache made here, the strength grid on the tiny SD fixture,
// and the errors a user meets first.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../common/test_env.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/io/image.hpp"
#include "sd/sd_fixtures.hpp"
#include "sources/sources_test_files.hpp"
#include "common/run_cli.hpp"

namespace {

namespace fs = std::filesystem;
using dmx::test::read_text;

std::string fresh_dir(const std::string& name) { return dmx::test::fresh_dir("grid-cli-test", name); }

using dmx::test::run_cli;

std::vector<int> color_of_sample(int k) { return {20 + 40 * k, 230 - 40 * k, 60}; }

// The cache's samples as (source, target, strength); sample k is a solid 12×16 image of color_of_sample(k).
struct Sample {
  int64_t source, target;
  double strength;
};
const std::vector<Sample> kSamples = {{1, 0, 0.5}, {2, 0, 0.7}, {0, 0, 0.9}, {0, 1, 0.5}, {1, 2, 0.7}};

void write_cache(const std::string& folder) {
  dmx::data::SyntheticCacheWriter writer(folder);
  for (size_t k = 0; k < kSamples.size(); ++k) {
    at::Tensor image = at::empty({12, 16, 3}, at::kByte);
    const auto rgb = color_of_sample(static_cast<int>(k));
    for (int64_t c = 0; c < 3; ++c) image.select(2, c).fill_(rgb[static_cast<size_t>(c)]);
    dmx::data::SyntheticRecord record;
    record.source_class = kSamples[k].source;
    record.target_class = kSamples[k].target;
    record.strength = kSamples[k].strength;
    record.seed = k;
    writer.add(image, record);
  }
}

// <root>/train/{heron,owl,wren}/<i>.png: two random 12×10 images per class (classes 0, 1, 2).
void write_image_folder(const std::string& root) {
  auto generator = at::detail::createCPUGenerator(11);
  for (const char* name : {"heron", "owl", "wren"}) {
    fs::create_directories(root + "/train/" + name);
    for (int i = 0; i < 2; ++i)
      dmx::io::write_image(root + "/train/" + name + "/" + std::to_string(i) + ".png",
                           at::randint(0, 256, {12, 10, 3}, generator, at::kByte));
  }
}

// A `diffmix synthesize` config on <dir>/birds whose source is Real-Mix on the tiny fixture model.
std::string write_config(const std::string& dir) {
  const auto path = dir + "/synth.toml";
  std::ofstream(path) << "[data]\nkind = \"image-folder\"\nroot = \"" << dir << "/birds\"\n"
                      << "[synthesis]\noutput = \"" << dir << "/unused\"\ncount = 1\nseed = 3\n"
                      << "[synthesis.source]\naugmenter = \"real_mix\"\nmodel = \"" << dmx::test::sd_fixture_dir()
                      << "/model\"\nresolution = 32\nsteps = 10\n";
  return path;
}

// The pixel at the centre of cell (row, column) of a sheet with a title, row labels, 64 px cells, the default 8 px
// gap and one caption line: rows start 32 px down (gap, 16 px title, gap) and are 92 px apart
// (8 px label + 2 px pad + 64 px cell + 2 px pad + 8 px caption + 8 px gap).
std::vector<int> cell_centre(const at::Tensor& sheet, int64_t row, int64_t column) {
  const int64_t x = 8 + column * 72 + 32, y = 32 + row * 92 + 10 + 32;
  std::vector<int> rgb;
  for (int64_t c = 0; c < 3; ++c) rgb.push_back(sheet[y][x][c].item<int>());
  return rgb;
}

void expect_color_near(const std::vector<int>& actual, const std::vector<int>& expected, const std::string& what) {
  for (size_t c = 0; c < 3; ++c) EXPECT_NEAR(actual[c], expected[c], 1) << what << " channel " << c;
}

TEST(GridCli, CacheSheetHasOneRowPerTargetClass) {
  const auto dir = fresh_dir("cache");
  write_cache(dir + "/cache");
  ASSERT_EQ(run_cli("grid --cache " + dir + "/cache --out " + dir + "/grid.png --per-class 2 --tile 64",
                    dir + "/log.txt"),
            0)
      << read_text(dir + "/log.txt");
  const at::Tensor sheet = dmx::io::read_image(dir + "/grid.png");
  // Three rows (targets 0, 1, 2) of at most two tiles; the title "cache: 5 samples" (16 characters at 12 px) sets the
  // width: 16 · 12 + 2 · 8.
  EXPECT_EQ(sheet.size(0), 32 + 3 * 92);
  EXPECT_EQ(sheet.size(1), 16 * 12 + 2 * 8);
  expect_color_near(cell_centre(sheet, 0, 0), color_of_sample(0), "target 0, first sample");
  expect_color_near(cell_centre(sheet, 0, 1), color_of_sample(1), "target 0, second sample");
  expect_color_near(cell_centre(sheet, 0, 2), {255, 255, 255}, "target 0, third sample (beyond --per-class)");
  expect_color_near(cell_centre(sheet, 1, 0), color_of_sample(3), "target 1");
  expect_color_near(cell_centre(sheet, 2, 0), color_of_sample(4), "target 2");
  EXPECT_NE(read_text(dir + "/log.txt").find("3 rows"), std::string::npos) << read_text(dir + "/log.txt");
}

TEST(GridCli, ClassesAreChosenByNameThroughTheConfig) {
  const auto dir = fresh_dir("names");
  write_cache(dir + "/cache");
  write_image_folder(dir + "/birds");
  const auto config = write_config(dir);
  ASSERT_EQ(run_cli("grid --cache " + dir + "/cache --config " + config + " --classes wren,heron --tile 64 --out " +
                        dir + "/grid.png",
                    dir + "/log.txt"),
            0)
      << read_text(dir + "/log.txt");
  const at::Tensor sheet = dmx::io::read_image(dir + "/grid.png");
  EXPECT_EQ(sheet.size(0), 32 + 2 * 92);
  expect_color_near(cell_centre(sheet, 0, 0), color_of_sample(4), "wren (target 2) first");
  expect_color_near(cell_centre(sheet, 1, 0), color_of_sample(0), "heron (target 0) second");
}

TEST(GridCli, BadInputIsAnErrorNamingTheValue) {
  const auto dir = fresh_dir("errors");
  write_cache(dir + "/cache");
  write_image_folder(dir + "/birds");
  const auto config = write_config(dir);
  const auto log = dir + "/log.txt";

  EXPECT_EQ(run_cli("grid --cache " + dir + "/missing --out " + dir + "/a.png", log), 66);  // EX_NOINPUT
  EXPECT_NE(read_text(log).find(dir + "/missing"), std::string::npos) << read_text(log);

  EXPECT_EQ(run_cli("grid --cache " + dir + "/cache --config " + config + " --classes eagle --out " + dir + "/b.png", log),
            64);  // EX_USAGE
  EXPECT_NE(read_text(log).find("'eagle'"), std::string::npos) << read_text(log);

  EXPECT_EQ(run_cli("grid --cache " + dir + "/cache --classes 7 --out " + dir + "/c.png", log), 64);
  EXPECT_NE(read_text(log).find("class index 7"), std::string::npos) << read_text(log);

  EXPECT_EQ(run_cli("grid " + config + " --reference 99 --target wren --out " + dir + "/d.png", log), 64);
  EXPECT_NE(read_text(log).find("--reference 99"), std::string::npos) << read_text(log);

  EXPECT_EQ(run_cli("grid " + config + " --reference 0 --target eagle --out " + dir + "/e.png", log), 64);
  EXPECT_NE(read_text(log).find("'eagle'"), std::string::npos) << read_text(log);

  EXPECT_EQ(run_cli("grid --out " + dir + "/f.png", log), 64);  // neither mode
  for (const char* name : {"a.png", "b.png", "c.png", "d.png", "e.png", "f.png"})
    EXPECT_FALSE(fs::exists(dir + "/" + name)) << name;
}

TEST(GridCli, StrengthGridShowsTheReferenceAndOneTilePerStrength) {
  const auto dir = fresh_dir("strengths");
  write_image_folder(dir + "/birds");
  const auto config = write_config(dir);
  ASSERT_EQ(run_cli("grid " + config + " --reference 1 --target wren --tile 64 --out " + dir + "/fig4.png",
                    dir + "/log.txt"),
            0)
      << read_text(dir + "/log.txt");
  const at::Tensor sheet = dmx::io::read_image(dir + "/fig4.png");
  // 1 + 5 cells of 64 px with 8 px gaps; no row label; captions of three lines ("s=0.1", "y: 0.68 c0", "+ 0.32 c2").
  EXPECT_EQ(sheet.size(1), 8 + 6 * 72);
  EXPECT_EQ(sheet.size(0), 32 + 64 + 2 + 3 * 8 + 8);

  // Each tile is the 12×10 reference size fitted to 64 px: 64 × 53, 5 px from the cell's left edge.
  std::vector<at::Tensor> tiles;
  for (int64_t k = 0; k < 6; ++k)
    tiles.push_back(sheet.slice(0, 32, 32 + 64).slice(1, 8 + k * 72 + 5, 8 + k * 72 + 5 + 53).to(at::kInt));
  for (size_t a = 0; a < tiles.size(); ++a)
    for (size_t b = a + 1; b < tiles.size(); ++b)
      EXPECT_GT((tiles[a] - tiles[b]).abs().max().item<int>(), 0) << "tiles " << a << " and " << b << " are equal";
}

}  // namespace
