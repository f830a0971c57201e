// Applying the CLIP filter to a synthetic cache folder, resumably and without touching what synthesis wrote.
//
//   auto filter = dmx::diffusion::ClipFilter::load(clip_folder, dataset.metaclass());
//   auto summary = dmx::diffusion::filter_synthetic_cache(filter, "cache/diff-mix", dataset.num_classes());
//   // training then reads the kept samples:
//   dmx::data::SyntheticCacheOptions options;
//   options.manifest = dmx::data::kFilteredManifestFileName;
//   auto cache = dmx::data::SyntheticCache::open("cache/diff-mix", dataset.num_classes(), options);
//
// Two files are added to the folder; manifest.jsonl and the images stay as they are, so a filter can be redone with
// another fraction, and synthesis can still resume:
//   clip_scores.jsonl        one line per sample, in manifest order: {"path":"images/000012.png","p_with":0.93}.
//                            Appended and fsynced after every batch, so a killed filter resumes at the first
//                            unscored sample; a truncated last line is cut off.
//   manifest.filtered.jsonl  the kept samples' manifest lines, written whole (temporary file + rename) only once
//                            every sample has a score.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/diffusion/clip_filter.hpp"

namespace dmx::diffusion {

inline constexpr const char* kClipScoresFileName = "clip_scores.jsonl";

struct CacheFilterOptions {
  double drop_fraction = kDefaultDropFraction;
  int64_t batch_size = 32;  // images scored per CLIP forward pass
  // Called after every batch with (samples scored so far, samples in the cache).
  std::function<void(int64_t, int64_t)> on_progress;
};

struct CacheFilterSummary {
  int64_t samples = 0;        // in manifest.jsonl
  int64_t newly_scored = 0;   // by this call; the others' scores were already in clip_scores.jsonl
  std::vector<float> scores;  // P(with) per sample, in manifest order
  std::vector<int64_t> kept;  // indices into manifest.jsonl, ascending
};

// Scores the samples of `<folder>/manifest.jsonl` that clip_scores.jsonl lacks, then writes
// manifest.filtered.jsonl with the samples select_kept() keeps. A clip_scores.jsonl whose paths disagree with the
// manifest (scores of another cache) is a Format error naming both files and the line.
CacheFilterSummary filter_synthetic_cache(const ClipFilter& filter, const std::string& folder, int64_t num_classes,
                                          const CacheFilterOptions& options = {});

// The scores clip_scores.jsonl holds for the first samples of `records` (at most records.size()), checked against
// their paths. A missing file gives no scores; a truncated last line is ignored.
std::vector<float> read_clip_scores(const std::string& folder, const std::vector<data::SyntheticRecord>& records);

}  // namespace dmx::diffusion
