// The synthetic cache: soft labels, the manifest reader's error handling, resumable writing, the authors' meta.csv.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "data_test_files.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/file_lock.hpp"
#include "diffmix/io/image.hpp"

namespace {

using dmx::data::SyntheticCache;
using dmx::data::SyntheticCacheWriter;
using dmx::data::SyntheticRecord;
using dmx::test::error_of;
using dmx::test::TempDir;
using dmx::test::write_text;

SyntheticRecord record(int64_t source, int64_t target, double strength, uint64_t seed = 0) {
  SyntheticRecord r;
  r.source_class = source;
  r.target_class = target;
  r.strength = strength;
  r.seed = seed;
  return r;
}

TEST(SoftLabel, FollowsTheDiffMixFormula) {
  const at::Tensor y = dmx::data::diffmix_soft_label(1, 3, 0.7, 5, 0.5);
  const float target = static_cast<float>(std::sqrt(0.7));
  EXPECT_FLOAT_EQ(y[1].item<float>(), 1.0f - target);
  EXPECT_FLOAT_EQ(y[3].item<float>(), target);
  EXPECT_FLOAT_EQ(y.sum().item<float>(), 1.0f);
  const at::Tensor same = dmx::data::diffmix_soft_label(2, 2, 0.7, 5);
  EXPECT_FLOAT_EQ(same[2].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(dmx::data::diffmix_soft_label(0, 1, 0.5, 2, 0.1)[1].item<float>(),
                  static_cast<float>(std::pow(0.5, 0.1)));
  EXPECT_THROW(dmx::data::diffmix_soft_label(0, 5, 0.5, 5), dmx::Error);
  EXPECT_THROW(dmx::data::diffmix_soft_label(0, 1, 1.5, 5), dmx::Error);
}

TEST(SyntheticCacheWriter, WritesImagesAndAManifestTheReaderAccepts) {
  TempDir dir;
  {
    SyntheticCacheWriter writer(dir / "cache");
    writer.add(dmx::test::test_picture(8, 8, 1), record(0, 2, 0.5, 11));
    SyntheticRecord explicit_label = record(1, 1, 1.0, 12);
    explicit_label.soft_label = {0.2f, 0.8f, 0.0f};
    writer.add(dmx::test::test_picture(8, 8, 2), explicit_label);
    EXPECT_EQ(writer.size(), 2);
  }
  const auto cache = SyntheticCache::open(dir / "cache", 3);
  ASSERT_EQ(cache->size(), 2);
  EXPECT_EQ(cache->record(0).path, "images/000000.png");
  EXPECT_EQ(cache->record(0).seed, 11u);
  EXPECT_TRUE(cache->load_image(1).equal(dmx::test::test_picture(8, 8, 2)));
  EXPECT_TRUE(cache->soft_label(0).equal(dmx::data::diffmix_soft_label(0, 2, 0.5, 3)));
  EXPECT_FLOAT_EQ(cache->soft_label(1)[1].item<float>(), 0.8f);
  EXPECT_EQ(cache->indices_by_target()[2], std::vector<int64_t>{0});
}

// Two writers on one folder would interleave their manifest lines; the second is told the folder is busy (the lock is
// per open file, so this holds between processes as well as within one) and gets it once the first is gone.
TEST(SyntheticCacheWriter, ASecondWriterOfTheSameFolderIsBusyUntilTheFirstIsGone) {
  TempDir dir;
  auto first = std::make_unique<SyntheticCacheWriter>(dir / "cache");
  first->add(dmx::test::test_picture(8, 8, 1), record(0, 1, 0.5, 1));
  try {
    SyntheticCacheWriter second(dir / "cache");
    ADD_FAILURE() << "a second writer of the same folder was allowed";
  } catch (const dmx::Error& error) {
    EXPECT_EQ(error.category(), dmx::ErrorCategory::Busy);
    EXPECT_NE(std::string(error.what()).find(dir / "cache" + ": another process is writing this synthetic cache"),
              std::string::npos)
        << error.what();
  }
  first.reset();
  SyntheticCacheWriter second(dir / "cache");
  EXPECT_EQ(second.size(), 1);
}

// A cache records what made its samples; a writer with other settings is refused (naming the folder and the first
// line that differs) before it adds anything, one with the same settings resumes, and the count may grow.
TEST(SyntheticCacheWriter, RefusesACacheMadeWithOtherSettings) {
  TempDir dir;
  const std::string made_by = "seed = 0\n\n[source]\naugmenter = 'diff_mix'\nsteps = 25\n";
  {
    SyntheticCacheWriter writer(dir / "cache", ".png", made_by);
    writer.add(dmx::test::test_picture(8, 8, 1), record(0, 1, 0.5, 1));
  }
  EXPECT_EQ(dmx::io::read_text_if_exists(dir / "cache/" + dmx::data::kMadeByFileName), made_by);
  const std::string other = "seed = 0\n\n[source]\naugmenter = 'diff_mix'\nsteps = 30\n";
  const std::string message = error_of([&] { SyntheticCacheWriter writer(dir / "cache", ".png", other); });
  EXPECT_NE(message.find(dir / "cache: its samples were made with other settings"), std::string::npos) << message;
  EXPECT_NE(message.find("line 5: `steps = 25` there, `steps = 30` here"), std::string::npos) << message;
  SyntheticCacheWriter same(dir / "cache", ".png", made_by);
  EXPECT_EQ(same.size(), 1);
  same.add(dmx::test::test_picture(8, 8, 2), record(1, 0, 0.5, 2));
  EXPECT_EQ(same.size(), 2);
}

// A cache written before settings were recorded takes those of its next writer; a writer without settings records
// and checks nothing.
TEST(SyntheticCacheWriter, ACacheWithoutARecordTakesTheNextWritersSettings) {
  TempDir dir;
  { SyntheticCacheWriter(dir / "cache").add(dmx::test::test_picture(8, 8, 1), record(0, 1, 0.5, 1)); }
  EXPECT_FALSE(std::filesystem::exists(dir / "cache/" + dmx::data::kMadeByFileName));
  { SyntheticCacheWriter writer(dir / "cache", ".png", "seed = 1\n"); }
  EXPECT_EQ(dmx::io::read_text_if_exists(dir / "cache/" + dmx::data::kMadeByFileName), "seed = 1\n");
  SyntheticCacheWriter unrecorded(dir / "cache");
  EXPECT_EQ(unrecorded.size(), 1);
}

TEST(FileLock, IsExclusiveUntilReleasedAndCreatesItsFolder) {
  TempDir dir;
  const std::string path = dir / "a/b/.lock";
  auto lock = dmx::io::FileLock::try_acquire(path);
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(lock->path(), path);
  EXPECT_FALSE(dmx::io::FileLock::try_acquire(path).has_value());
  auto moved = std::move(*lock);
  lock.reset();
  EXPECT_FALSE(dmx::io::FileLock::try_acquire(path).has_value());  // the moved-to object holds it now
  { auto released = std::move(moved); }
  EXPECT_TRUE(dmx::io::FileLock::try_acquire(path).has_value());
  EXPECT_THROW(dmx::io::FileLock::try_acquire("/proc/diffmix-no-such-place/.lock"), dmx::Error);
}

TEST(SyntheticCacheWriter, AKilledRunResumesWithoutLossOrDuplicates) {
  TempDir dir;
  const std::string folder = dir / "cache";
  {
    SyntheticCacheWriter writer(folder);
    for (int i = 0; i < 3; ++i) writer.add(dmx::test::test_picture(6, 6, i), record(0, 1, 0.5, i));
  }
  // What a kill leaves: an image whose line was never written, half of the next line, and the temporary file of an
  // image write that never reached its rename.
  dmx::io::write_image(folder + "/images/000003.png", dmx::test::test_picture(6, 6, 99));
  std::ofstream(folder + "/images/000004.png.tmp-4242-17") << "half a png";
  std::ofstream(folder + "/made_by.toml.tmp-4242-18") << "half a record";
  std::ofstream(folder + "/manifest.jsonl", std::ios::app) << R"({"path":"images/000003.png","source_cl)";

  // A reader meanwhile sees the three complete samples.
  EXPECT_EQ(SyntheticCache::open(folder, 2)->size(), 3);

  {
    SyntheticCacheWriter writer(folder);
    EXPECT_EQ(writer.size(), 3);  // resume at job 3
    for (int i = 3; i < 5; ++i) writer.add(dmx::test::test_picture(6, 6, i), record(1, 0, 0.9, i));
  }
  const auto cache = SyntheticCache::open(folder, 2);
  ASSERT_EQ(cache->size(), 5);
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(cache->record(i).seed, static_cast<uint64_t>(i));
    EXPECT_EQ(cache->record(i).path, "images/00000" + std::to_string(i) + ".png");
    // The orphan image was overwritten by the resumed sample 3.
    EXPECT_TRUE(cache->load_image(i).equal(dmx::test::test_picture(6, 6, static_cast<int>(i))));
  }
  // Nothing but the five images is left in the folder, and no temporary file beside the manifest.
  EXPECT_FALSE(std::filesystem::exists(folder + "/made_by.toml.tmp-4242-18"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(folder + "/images"),
                          std::filesystem::directory_iterator()),
            5);
}

TEST(SyntheticCache, MalformedManifestLinesNameFileAndLine) {
  TempDir dir;
  const std::string good = R"({"path":"images/a.png","source_class":0,"target_class":1,"strength":0.5})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {R"({"path":"images/a.png","target_class":1,"strength":0.5})", "missing key 'source_class'"},
      {R"({"path":"images/a.png","source_class":"x","target_class":1,"strength":0.5})", "'source_class' must be"},
      {R"({"path":"images/a.png","source_class":0,"target_class":7,"strength":0.5})", "target_class 7 outside"},
      {R"({"path":"images/a.png","source_class":0,"target_class":1,"strength":2})", "strength"},
      {R"({"path":"/etc/passwd","source_class":0,"target_class":1,"strength":0.5})", "must be relative"},
      {R"({"path":"a.png","source_class":0,"target_class":1,"strength":0.5,"soft_label":[1]})", "soft_label has 1"},
  };
  for (const auto& [line, problem] : cases) {
    write_text(dir / "c/manifest.jsonl", good + "\n" + line + "\n" + good + "\n");
    const std::string message = error_of([&] { SyntheticCache::open(dir / "c", 3); });
    EXPECT_NE(message.find("manifest.jsonl:2"), std::string::npos) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << message;
    dmx::data::SyntheticCacheOptions skip;
    skip.skip_bad_entries = true;
    EXPECT_EQ(SyntheticCache::open(dir / "c", 3, skip)->size(), 2) << line;
  }
  EXPECT_NE(error_of([&] { SyntheticCache::open(dir / "missing", 3); }).find("manifest.jsonl"), std::string::npos);
}

TEST(SyntheticCache, ReadsTheAuthorsMetaCsv) {
  TempDir dir;
  const std::string folder = dir / "authors";
  dmx::test::write_picture(folder + "/data/Bird_a/Bird_c-00001-0.7.png", 5, 5, 1);
  dmx::test::write_picture(folder + "/data/Bird_b/Bird_b-00002-0.5.png", 5, 5, 2);
  write_text(folder + "/meta.csv",
             ",First Directory,Second Directory,Number,Strength,Path\n"
             "0,Bird a,Bird c,1,0.7,Bird_a/Bird_c-00001-0.7.png\n"
             "1,Bird_b,Bird b,2,0.5,Bird_b/Bird_b-00002-0.5.png\n");
  const std::vector<std::string> classes = {"Bird a", "Bird b", "Bird_c"};
  const auto cache = SyntheticCache::open_any(folder, classes);
  ASSERT_EQ(cache->size(), 2);
  EXPECT_EQ(cache->record(0).source_class, 0);  // First Directory is the source (reference) class
  EXPECT_EQ(cache->record(0).target_class, 2);
  EXPECT_DOUBLE_EQ(cache->record(0).strength, 0.7);
  EXPECT_TRUE(cache->soft_label(0).equal(dmx::data::diffmix_soft_label(0, 2, 0.7, 3)));
  EXPECT_TRUE(cache->load_image(1).equal(dmx::test::test_picture(5, 5, 2)));
  EXPECT_TRUE(cache->soft_label(1).equal(dmx::data::diffmix_soft_label(1, 1, 0.5, 3)));

  write_text(folder + "/meta.csv",
             "First Directory,Second Directory,Number,Strength,Path\n"
             "Bird a,Bird z,1,0.7,Bird_a/x.png\n");
  const std::string unknown = error_of([&] { SyntheticCache::open_meta_csv(folder, classes); });
  EXPECT_NE(unknown.find("meta.csv:2"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("Bird z"), std::string::npos) << unknown;
  write_text(folder + "/meta.csv", "First Directory,Number,Strength,Path\n");
  EXPECT_NE(error_of([&] { SyntheticCache::open_meta_csv(folder, classes); }).find("Second Directory"),
            std::string::npos);
  write_text(folder + "/meta.csv",
             "First Directory,Second Directory,Number,Strength,Path\n"
             "Bird a,Bird b,1,strong,Bird_a/x.png\n");
  EXPECT_NE(error_of([&] { SyntheticCache::open_meta_csv(folder, classes); }).find("meta.csv:2"), std::string::npos);
  EXPECT_NE(error_of([&] { SyntheticCache::open_any(dir / "empty", classes); }).find("not a synthetic cache"),
            std::string::npos);
}

}  // namespace
