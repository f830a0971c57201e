// Shards of a synthesis run: parsing `i/N`, where each shard lives, and merging them into the cache one process
// writes, with the checks that keep a missing, unfinished or foreign shard out.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "data_test_files.hpp"
#include "diffmix/data/cache_shards.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"

namespace {

namespace fs = std::filesystem;
using dmx::data::CacheShard;
using dmx::data::SyntheticCacheWriter;
using dmx::data::SyntheticRecord;
using dmx::test::error_of;
using dmx::test::TempDir;

constexpr const char* kMadeBy = "augmenter = \"test\"\nseed = 3\n";
constexpr int64_t kTotal = 7;

// Sample k of the test run: a picture tagged k, target class k % 3, seed 100 + k.
SyntheticRecord record_of(int64_t k) {
  SyntheticRecord record;
  record.source_class = 0;
  record.target_class = k % 3;
  record.seed = static_cast<uint64_t>(100 + k);
  return record;
}

// Makes samples [begin, end) of shard `shard` of the test run, as a worker does.
void make_shard(const std::string& cache, const CacheShard& shard, int64_t end_early = 0) {
  const auto samples = dmx::data::shard_samples(kTotal, shard);
  SyntheticCacheWriter writer(dmx::data::shard_folder(cache, shard), ".png",
                              dmx::data::shard_made_by(kMadeBy, kTotal, shard), samples.begin);
  for (int64_t k = samples.begin + writer.size(); k < samples.end - end_early; ++k)
    writer.add(dmx::test::test_picture(6, 5, static_cast<int>(k)), record_of(k));
}

// The cache one process writes.
void make_whole(const std::string& cache) {
  SyntheticCacheWriter writer(cache, ".png", kMadeBy);
  for (int64_t k = 0; k < kTotal; ++k) writer.add(dmx::test::test_picture(6, 5, static_cast<int>(k)), record_of(k));
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(CacheShards, ParsesIOfNAndRefusesAnythingElse) {
  const CacheShard shard = dmx::data::parse_shard("2/3");
  EXPECT_EQ(shard.index, 2);
  EXPECT_EQ(shard.count, 3);
  EXPECT_EQ(dmx::data::to_string(shard), "2/3");
  for (const char* bad : {"3/3", "1", "-1/2", "a/b", "1/0", ""})
    EXPECT_NE(error_of([&] { dmx::data::parse_shard(bad); }).find("is not a shard: expected i/N"), std::string::npos)
        << bad;
  EXPECT_EQ(dmx::data::shard_folder("out", {1, 4}), "out/shards/1-of-4");
}

TEST(CacheShards, MergedShardsAreTheCacheOneProcessWrites) {
  TempDir dir;
  make_whole(dir / "whole");
  for (int i = 0; i < 3; ++i) make_shard(dir / "merged", {i, 3});
  EXPECT_EQ(dmx::data::shard_count_in(dir / "merged"), 3);
  const auto merged = dmx::data::merge_cache_shards(dir / "merged", kMadeBy, kTotal, 3, 3);
  EXPECT_EQ(merged.merged, kTotal);
  EXPECT_EQ(merged.total, kTotal);
  EXPECT_EQ(file_bytes(dir / "merged/manifest.jsonl"), file_bytes(dir / "whole/manifest.jsonl"));
  for (int64_t k = 0; k < kTotal; ++k) {
    const std::string image = "/images/00000" + std::to_string(k) + ".png";
    EXPECT_EQ(file_bytes(dir / ("merged" + image)), file_bytes(dir / ("whole" + image))) << image;
  }
  EXPECT_FALSE(fs::exists(dir / "merged/shards")) << "the merged shards are removed";
  EXPECT_EQ(dmx::data::merge_cache_shards(dir / "merged", kMadeBy, kTotal, 3, 3).merged, 0) << "merged once";
}

TEST(CacheShards, AMissingUnfinishedOrForeignShardIsNamedBeforeAnythingIsCopied) {
  TempDir dir;
  const std::string cache = dir / "cache";
  make_shard(cache, {0, 2});
  const auto merge = [&] { dmx::data::merge_cache_shards(cache, kMadeBy, kTotal, 2, 3); };
  EXPECT_NE(error_of(merge).find("shard 1/2 (" + cache + "/shards/1-of-2) is missing: run `diffmix synthesize "
                                 "CONFIG --shard 1/2`"),
            std::string::npos);
  make_shard(cache, {1, 2}, /*end_early=*/1);
  EXPECT_NE(error_of(merge).find("holds 2 of its 3 samples"), std::string::npos) << error_of(merge);
  EXPECT_EQ(dmx::data::SyntheticCache::open(cache, 3)->size(), 0) << "nothing copied before every shard is whole";
  make_shard(cache, {1, 2});

  // A shard of a run with other settings (here: another seed) is not merged.
  std::ofstream(dmx::data::shard_folder(cache, {0, 2}) + "/" + dmx::data::kMadeByFileName, std::ios::trunc)
      << dmx::data::shard_made_by("augmenter = \"test\"\nseed = 4\n", kTotal, {0, 2});
  EXPECT_NE(error_of(merge).find("was made with other settings than this run's"), std::string::npos)
      << error_of(merge);
  std::ofstream(dmx::data::shard_folder(cache, {0, 2}) + "/" + dmx::data::kMadeByFileName, std::ios::trunc)
      << dmx::data::shard_made_by(kMadeBy, kTotal, {0, 2});
  merge();
  EXPECT_EQ(dmx::data::SyntheticCache::open(cache, 3)->size(), kTotal);
}

TEST(CacheShards, ShardsOfTwoSplitsAreRefused) {
  TempDir dir;
  make_shard(dir / "cache", {0, 2});
  make_shard(dir / "cache", {1, 3});
  EXPECT_NE(error_of([&] { dmx::data::shard_count_in(dir / "cache"); }).find("holds shards of two splits"),
            std::string::npos);
}

}  // namespace
