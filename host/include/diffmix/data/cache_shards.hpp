// A synthesis run spread over workers (processes, or hosts with or without a shared filesystem).
//
// Worker i of N makes its contiguous share of the run's samples (dist::share_of(count, i, N)) into its own cache
// folder, the shard <cache>/shards/<i>-of-<N>, whose samples keep the run's numbers. Once every shard is complete,
// merge_cache_shards copies them in order into <cache> itself: the manifest is the one a single process writes and
// every image file is the same file. A worker that died is started again with the same shard and resumes it.
//
//   const CacheShard shard = parse_shard("1/4");
//   source.synthesize_part(shard_folder(cache, shard), count, samples.begin, samples.end);   // on each worker
//   merge_cache_shards(cache, made_by, count, num_classes);                                  // once, at the end
#pragma once

#include <cstdint>
#include <string>

#include "diffmix/distributed.hpp"

namespace dmx::data {

struct CacheShard {
  int index = 0;  // 0 .. count-1
  int count = 1;
};

// "i/N" with 0 <= i < N (as RANK/WORLD_SIZE). Anything else is a Config error naming the text.
CacheShard parse_shard(const std::string& text);
std::string to_string(const CacheShard& shard);  // "i/N"

// <cache>/shards/<i>-of-<N>.
std::string shard_folder(const std::string& cache, const CacheShard& shard);
// The samples [begin, end) of a run of `total` that the shard makes.
dist::Share shard_samples(int64_t total, const CacheShard& shard);
// What made a shard's samples: the run's `made_by` (see SyntheticCacheWriter) and the part of which run it is, so
// that a shard of another split or another count is never merged.
std::string shard_made_by(const std::string& made_by, int64_t total, const CacheShard& shard);

// The N of the shards under <cache>/shards (0 when there are none). Shards of two different splits are an error
// naming both.
int shard_count_in(const std::string& cache);

struct MergeResult {
  int64_t merged = 0;  // samples copied by this call
  int64_t total = 0;   // samples in the cache afterwards
};

// Copies the `shards` shards of a run of `total` samples into `cache` (made by `made_by`), in order, then removes
// them. Resumable: samples already in the cache's manifest are not copied again. Every shard is checked before
// anything is copied: one that is missing, unfinished or made by other settings is an error that names it and says
// which `--shard` to run.
MergeResult merge_cache_shards(const std::string& cache, const std::string& made_by, int64_t total, int shards,
                               int64_t num_classes);

}  // namespace dmx::data
