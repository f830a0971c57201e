// Shards of a synthesis run: where they live, what they hold, and merging them into one cache.
#include "diffmix/data/cache_shards.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <vector>

#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"

namespace dmx::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kShardsFolder = "shards";

// "shard 1/2 (cache/shards/1-of-2)".
std::string describe(const std::string& cache, const CacheShard& shard) {
  return "shard " + to_string(shard) + " (" + shard_folder(cache, shard) + ")";
}

std::string how_to_make(const CacheShard& shard) {
  return "run `diffmix synthesize CONFIG --shard " + to_string(shard) + "` (on another host: then copy its folder " +
         "here) and merge again";
}

// The shard's samples, checked: made by this run's settings and complete.
std::shared_ptr<SyntheticCache> open_finished_shard(const std::string& cache, const std::string& made_by,
                                                    int64_t total, const CacheShard& shard, int64_t num_classes) {
  const std::string folder = shard_folder(cache, shard);
  if (!fs::exists(fs::path(folder) / kManifestFileName))
    throw not_found(describe(cache, shard) + " is missing: " + how_to_make(shard));
  const std::string recorded = io::read_text_if_exists(folder + "/" + kMadeByFileName);
  if (recorded != shard_made_by(made_by, total, shard))
    throw invalid_argument(describe(cache, shard) + " was made with other settings than this run's (compare its " +
                           kMadeByFileName + "); delete it and " + how_to_make(shard));
  auto samples = SyntheticCache::open(folder, num_classes);
  const dist::Share share = shard_samples(total, shard);
  if (samples->size() != share.end - share.begin)
    throw invalid_argument(describe(cache, shard) + " holds " + std::to_string(samples->size()) + " of its " +
                           std::to_string(share.end - share.begin) + " samples: " + how_to_make(shard));
  return samples;
}

}  // namespace

CacheShard parse_shard(const std::string& text) {
  static const std::regex form(R"(\s*(\d{1,6})\s*/\s*(\d{1,6})\s*)");
  std::smatch match;
  if (std::regex_match(text, match, form)) {
    const CacheShard shard{std::stoi(match[1]), std::stoi(match[2])};
    if (shard.count >= 1 && shard.index < shard.count) return shard;
  }
  throw config_error("--shard '" + text + "' is not a shard: expected i/N with 0 <= i < N (e.g. 0/4 ... 3/4)");
}

std::string to_string(const CacheShard& shard) {
  return std::to_string(shard.index) + "/" + std::to_string(shard.count);
}

std::string shard_folder(const std::string& cache, const CacheShard& shard) {
  return (fs::path(cache) / kShardsFolder / (std::to_string(shard.index) + "-of-" + std::to_string(shard.count)))
      .string();
}

dist::Share shard_samples(int64_t total, const CacheShard& shard) {
  return dist::share_of(total, shard.index, shard.count);
}

std::string shard_made_by(const std::string& made_by, int64_t total, const CacheShard& shard) {
  std::string text = made_by;
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text + "\n[shard]\nindex = " + std::to_string(shard.index) + "\nshards = " + std::to_string(shard.count) +
         "\nrun_samples = " + std::to_string(total) + "\n";
}

int shard_count_in(const std::string& cache) {
  const fs::path root = fs::path(cache) / kShardsFolder;
  if (!fs::is_directory(root)) return 0;
  static const std::regex name(R"((\d+)-of-(\d+))");
  std::map<int, std::string> splits;  // N -> a folder of that split
  for (const auto& entry : fs::directory_iterator(root)) {
    std::smatch match;
    const std::string folder = entry.path().filename().string();
    if (entry.is_directory() && std::regex_match(folder, match, name)) splits.emplace(std::stoi(match[2]), folder);
  }
  if (splits.size() > 1)
    throw invalid_argument(root.string() + " holds shards of two splits (" + splits.begin()->second + " and " +
                           splits.rbegin()->second + "): keep the folders of one of them");
  return splits.empty() ? 0 : splits.begin()->first;
}

MergeResult merge_cache_shards(const std::string& cache, const std::string& made_by, int64_t total, int shards,
                               int64_t num_classes) {
  SyntheticCacheWriter writer(cache, ".png", made_by);
  MergeResult result;
  if (writer.size() < total) {
    std::vector<std::shared_ptr<SyntheticCache>> parts;
    for (int i = 0; i < shards; ++i)
      parts.push_back(open_finished_shard(cache, made_by, total, {i, shards}, num_classes));
    for (int i = 0; i < shards; ++i) {
      const dist::Share share = shard_samples(total, {i, shards});
      for (int64_t sample = std::max(share.begin, writer.size()); sample < share.end; ++sample) {
        const auto& part = *parts[static_cast<size_t>(i)];
        const int64_t local = sample - share.begin;
        writer.add_file(part.image_path(local), part.record(local));
        ++result.merged;
      }
    }
    spdlog::info("{}: merged {} samples from {} shards", cache, result.merged, shards);
  }
  result.total = writer.size();
  // The shards are copies now; a later --shard run finds the cache complete and makes nothing.
  std::error_code ignored;
  fs::remove_all(fs::path(cache) / kShardsFolder, ignored);
  return result;
}

}  // namespace dmx::data
