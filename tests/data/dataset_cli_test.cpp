// `diffmix dataset CONFIG` as a user runs it: each split's classes, images per class and Many / Medium / Few, and
// every problem a run would stop at, found in one pass.
#include <gtest/gtest.h>

#include <filesystem>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "common/run_cli.hpp"
#include "data_test_files.hpp"
#include "published_layouts.hpp"

namespace {

using dmx::test::run_cli;
using dmx::test::TempDir;
using dmx::test::write_text;

TEST(DatasetCommand, ShowsClassesCountsGroupsAndEveryProblem) {
  TempDir dir;
  dmx::test::write_flowers102(dir / "flowers");
  // Image 3 (train) is corrupt; image 1 is fine.
  write_text(dir / "flowers/jpg/image_00003.jpg", "not a jpeg");
  write_text(dir / "flowers.toml", "[data]\nkind = \"flowers102\"\nroot = \"" + dir / "flowers" +
                                       "\"\nsplit = \"train\"\n");
  const auto run = run_cli("dataset " + dir / "flowers.toml");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("train: flowers102 train"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("102 classes, 1 images, metaclass \"flower\""), std::string::npos) << run.output;
  const size_t row = run.output.find("  pink primrose ");
  ASSERT_NE(row, std::string::npos) << run.output;
  const std::string line = run.output.substr(row, run.output.find('\n', row) - row);
  std::istringstream words(line);
  std::vector<std::string> columns{std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
  ASSERT_GE(columns.size(), 2u) << line;
  EXPECT_EQ(columns[columns.size() - 2], "1") << line;
  EXPECT_EQ(columns.back(), "Few") << line;
  EXPECT_NE(run.output.find("Many (> 30 images): 0 classes"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("Few (< 10): 102 classes, 1 images"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("problems: 1 (left out above"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find(dir / "flowers/jpg/image_00003.jpg"), std::string::npos) << run.output;
}

TEST(DatasetCommand, ATrainingConfigShowsTrainAndTestSplits) {
  TempDir dir;
  dmx::test::write_waterbirds(dir / "wb");
  write_text(dir / "train.toml", "[data]\nkind = \"waterbirds\"\nroot = \"" + dir / "wb" + "\"\n");
  const auto run = run_cli("dataset " + dir / "train.toml");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("train: waterbirds train"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("test: waterbirds test"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("no problems"), std::string::npos) << run.output;
}

TEST(DatasetCommand, AMissingRootIsOneLineNamingIt) {
  TempDir dir;
  write_text(dir / "dogs.toml", "[data]\nkind = \"stanford-dogs\"\nroot = \"" + dir / "nowhere" +
                                    "\"\nsplit = \"train\"\n");
  const auto run = run_cli("dataset " + dir / "dogs.toml");
  EXPECT_EQ(run.exit_code, 66) << run.output;
  EXPECT_NE(run.output.find(dir / "nowhere/Images: no such folder"), std::string::npos) << run.output;
}

}  // namespace
