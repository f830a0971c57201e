// Filtering a synthetic cache folder: scores side file, filtered manifest read back by SyntheticCache, resuming an
// interrupted filter, and caches that grew after filtering.
#include "diffmix/diffusion/cache_filter.hpp"

#include "../sd/sd_fixtures.hpp"
#include "diffmix/diffusion/synthesis_plan.hpp"
#include "diffmix/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace {

using namespace dmx::diffusion;
namespace fs = std::filesystem;

constexpr int64_t kClasses = 3;

class TempFolder {
 public:
  TempFolder() : path_(fs::temp_directory_path() / ("diffmix-cache-filter-" + std::to_string(std::random_device()()))) {
    fs::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

SynthesisPlan test_plan() {
  return SynthesisPlan(find_synthesis_strategy("diff-mix"), {0, 1, 2, 0, 1, 2, 0, 1}, kClasses);
}

// Adds `n` samples the way a sample source makes them, resuming at job writer.size(): plan jobs, random images.
void add_samples(const std::string& folder, int64_t n) {
  const auto plan = test_plan();
  dmx::data::SyntheticCacheWriter writer(folder);
  at::manual_seed(writer.size());
  for (int64_t k = writer.size(), end = writer.size() + n; k < end; ++k)
    writer.add(at::randint(0, 256, {24 + 8 * (k % 3), 32, 3}, at::kByte), to_record(plan.job(k)));
}

const ClipFilter& tiny_filter() {
  static const ClipFilter filter = ClipFilter::load(dmx::test::sd_fixture_dir() + "/clip", "bird");
  return filter;
}

std::shared_ptr<dmx::data::SyntheticCache> open_filtered(const std::string& folder) {
  dmx::data::SyntheticCacheOptions options;
  options.manifest = dmx::data::kFilteredManifestFileName;
  return dmx::data::SyntheticCache::open(folder, kClasses, options);
}

TEST(CacheFilter, ASynthesisResumedByJobIndexHoldsExactlyThePlansJobs) {
  TempFolder folder;
  add_samples(folder.str(), 13);
  add_samples(folder.str(), 9);  // a second run, after the first was stopped
  const auto cache = dmx::data::SyntheticCache::open(folder.str(), kClasses);
  const auto plan = test_plan();
  ASSERT_EQ(cache->size(), 22);
  for (int64_t k = 0; k < cache->size(); ++k) {
    const auto job = plan.job(k);
    const auto& record = cache->record(k);
    EXPECT_EQ(record.source_class, job.source_class) << k;
    EXPECT_EQ(record.target_class, job.target_class) << k;
    EXPECT_EQ(record.strength, job.strength) << k;
    EXPECT_EQ(record.seed, job.seed) << k;
    EXPECT_TRUE(at::allclose(cache->soft_label(k), job.soft_label)) << k;
  }
}

TEST(CacheFilter, KeepsAllButTheLowestTenPercentInAFilteredManifest) {
  TempFolder folder;
  add_samples(folder.str(), 20);
  const std::string manifest_before = read_text(folder.str() + "/manifest.jsonl");

  CacheFilterOptions options;
  options.batch_size = 6;  // 4 batches, the last one short
  std::vector<int64_t> progress;
  options.on_progress = [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 20);
    progress.push_back(done);
  };
  const auto summary = filter_synthetic_cache(tiny_filter(), folder.str(), kClasses, options);
  EXPECT_EQ(progress, (std::vector<int64_t>{6, 12, 18, 20}));
  EXPECT_EQ(summary.samples, 20);
  EXPECT_EQ(summary.newly_scored, 20);
  ASSERT_EQ(summary.scores.size(), 20u);
  EXPECT_EQ(summary.kept, select_kept(summary.scores));
  EXPECT_EQ(summary.kept.size(), 18u);

  // Each score is the filter's score of that image.
  const auto all = dmx::data::SyntheticCache::open(folder.str(), kClasses);
  for (int64_t i = 0; i < all->size(); ++i)
    EXPECT_NEAR(summary.scores[static_cast<size_t>(i)], tiny_filter().score({all->load_image(i)})[0], 1e-6f);

  // The synthesis output is untouched; training reads the kept subset, records intact.
  EXPECT_EQ(read_text(folder.str() + "/manifest.jsonl"), manifest_before);
  const auto filtered = open_filtered(folder.str());
  ASSERT_EQ(filtered->size(), 18);
  for (int64_t j = 0; j < filtered->size(); ++j) {
    const auto& kept = filtered->record(j);
    const auto& original = all->record(summary.kept[static_cast<size_t>(j)]);
    EXPECT_EQ(kept.path, original.path);
    EXPECT_EQ(kept.source_class, original.source_class);
    EXPECT_EQ(kept.target_class, original.target_class);
    EXPECT_EQ(kept.strength, original.strength);
    EXPECT_EQ(kept.seed, original.seed);
    EXPECT_TRUE(at::equal(filtered->load_image(j), all->load_image(summary.kept[static_cast<size_t>(j)])));
  }
  EXPECT_EQ(read_clip_scores(folder.str(), all->records()), summary.scores);
  for (const auto& entry : fs::directory_iterator(folder.str()))  // no temporary file left behind
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST(CacheFilter, AnInterruptedFilterResumesAtTheFirstUnscoredSample) {
  TempFolder folder;
  add_samples(folder.str(), 20);
  const auto complete = filter_synthetic_cache(tiny_filter(), folder.str(), kClasses);

  // Keep 7 complete score lines and half of the 8th, as a killed run leaves them; drop the filtered manifest.
  const std::string scores_path = folder.str() + "/" + kClipScoresFileName;
  const std::string scores = read_text(scores_path);
  size_t cut = 0;
  for (int line = 0; line < 7; ++line) cut = scores.find('\n', cut) + 1;
  std::ofstream(scores_path, std::ios::binary | std::ios::trunc) << scores.substr(0, cut + 10);
  fs::remove(folder.str() + "/" + dmx::data::kFilteredManifestFileName);

  const auto resumed = filter_synthetic_cache(tiny_filter(), folder.str(), kClasses);
  EXPECT_EQ(resumed.newly_scored, 13);
  ASSERT_EQ(resumed.scores.size(), complete.scores.size());
  for (size_t i = 0; i < complete.scores.size(); ++i) EXPECT_NEAR(resumed.scores[i], complete.scores[i], 1e-6f);
  // The half line is gone: 20 complete lines, the first 7 as they were.
  const std::string rescored = read_text(scores_path);
  EXPECT_EQ(std::count(rescored.begin(), rescored.end(), '\n'), 20);
  EXPECT_EQ(rescored.substr(0, cut), scores.substr(0, cut));
  EXPECT_EQ(open_filtered(folder.str())->size(), 18);
}

TEST(CacheFilter, SamplesAddedAfterFilteringAreScoredOnTheNextRun) {
  TempFolder folder;
  add_samples(folder.str(), 20);
  const auto first = filter_synthetic_cache(tiny_filter(), folder.str(), kClasses);
  add_samples(folder.str(), 10);  // synthesis resumed with more jobs
  const auto second = filter_synthetic_cache(tiny_filter(), folder.str(), kClasses);
  EXPECT_EQ(second.newly_scored, 10);
  for (size_t i = 0; i < first.scores.size(); ++i) EXPECT_EQ(second.scores[i], first.scores[i]);  // read back
  EXPECT_EQ(second.kept.size(), 27u);
  EXPECT_EQ(open_filtered(folder.str())->size(), 27);
}

TEST(CacheFilter, ScoresOfAnotherCacheAreAFormatError) {
  TempFolder folder;
  add_samples(folder.str(), 4);
  std::ofstream(folder.str() + "/" + kClipScoresFileName) << R"({"path":"images/999999.png","p_with":0.5})" << "\n";
  try {
    filter_synthetic_cache(tiny_filter(), folder.str(), kClasses);
    FAIL() << "expected an error";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Format);
    EXPECT_NE(std::string(e.what()).find("clip_scores.jsonl:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("images/000000.png"), std::string::npos) << e.what();
  }
}

TEST(CacheFilter, AMissingFilteredManifestIsNotReplacedByAnotherOne) {
  TempFolder folder;
  add_samples(folder.str(), 4);
  std::ofstream(folder.str() + "/meta.csv") << "First Directory,Second Directory,Number,Strength,Path\n";
  dmx::data::SyntheticCacheOptions options;
  options.manifest = dmx::data::kFilteredManifestFileName;
  try {
    dmx::data::SyntheticCache::open_any(folder.str(), {"a", "b", "c"}, options);
    FAIL() << "expected an error";
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::NotFound);
    EXPECT_NE(std::string(e.what()).find("manifest.filtered.jsonl"), std::string::npos) << e.what();
  }
  options.manifest = "../manifest.jsonl";
  EXPECT_THROW(dmx::data::SyntheticCache::open(folder.str(), kClasses, options), dmx::Error);
}

}  // namespace
