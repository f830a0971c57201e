// compare: the same training run for several augmenter set-ups × seeds, summarised as mean ± std top-1 and the
// difference to the first set-up.
//
//   [compare]
//   seeds = [0, 1]
//   [[compare.setup]]
//   name = "none"
//   [[compare.setup]]
//   name = "cutmix"
//   augment = [{ augmenter = "cutmix", alpha = 1.0, prob = 0.5 }]
//   [[compare.setup]]
//   name = "diff_mix"
//   synthetic = { cache = "cache/diff_mix", source = { augmenter = "diff_mix", ... }, synchronous = true }
//
// Every other section is the one-run config (train_config.hpp); a set-up's `augment` replaces the top-level
// [[augment]] and its `synthetic` the top-level [synthetic]. Run r of set-up s writes into <output>/<s>/seed-<r>/ and resumes or is skipped like a single run, so an
// interrupted comparison continues where it stopped.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diffmix/classifier/paired_difference.hpp"
#include "diffmix/classifier/train_config.hpp"
#include "diffmix/classifier/trainer.hpp"

namespace dmx::classifier {

struct CompareSetup {
  std::string name;
  std::vector<config::Table> augment;
  // The set-up's own `synthetic = { ... }` (the keys of [synthetic]), in place of the config's [synthetic]: how one
  // comparison sets a diffusion augmenter against the batch augmenters and real data alone.
  std::optional<SyntheticSettings> synthetic;
};

struct CompareConfig {
  TrainConfig base;
  std::vector<uint64_t> seeds{0};
  std::vector<CompareSetup> setups;
  int64_t jobs = 1;  // runs at once (`diffmix compare` starts a process per run when > 1)
};

// Reads the one-run sections and [compare]. Set-up names must be unique and usable as folder names.
CompareConfig read_compare_config(const config::Table& root);

// The one-run config of set-up `setup` with `seed`.
TrainConfig setup_run_config(const CompareConfig& compare, const CompareSetup& setup, uint64_t seed);

// Builds every set-up's augmenters and streamed sources once (created, not prepared: no model is loaded), so that a
// typo in the last set-up fails before the first one runs.
void check_comparison(const CompareConfig& compare, PluginRegistry& registry);

// Runs every set-up × seed in order (a finished run is only re-read from its checkpoint). `runs[s][r]` is set-up s,
// seed r.
std::vector<std::vector<TrainResult>> run_comparison(const CompareConfig& compare, PluginRegistry& registry,
                                                     const RunOptions& options = {});

struct SetupSummary {
  std::string name;
  std::vector<uint64_t> seeds;
  std::vector<double> top1;         // one per seed, fractions
  double mean = 0;
  double stddev = 0;                // sample standard deviation (n − 1); 0 for one run
  double delta = 0;                 // mean − the first set-up's mean
  PairedDifference versus_first;    // the same, paired by seed, with its 95 % interval (docs/method.md)
  std::vector<double> mean_curve;   // mean test top-1 per evaluated epoch, over seeds
  std::vector<int64_t> curve_epochs;
  std::vector<double> shot_groups;  // long-tail runs: Many, Medium, Few accuracy, mean over seeds; else empty
  // The best evaluated epoch of each run (what the authors' code reports), its mean and sample standard deviation.
  std::vector<double> best_top1;
  double best_mean = 0;
  double best_stddev = 0;
  int64_t eval_every = 1;           // the set-up's [train] eval_every: > 1 puts the best-epoch column in the tables
  // Test sets with groups (Waterbirds): each group's accuracy and the worst group's, means over seeds; else empty/NaN.
  std::vector<TestGroupAccuracy> test_groups;
  double worst_group = std::nan("");
};

// Mean, sample standard deviation and Δ of the first set-up; `runs[s][r]` is set-up s, seed r.
std::vector<SetupSummary> summarise(const CompareConfig& compare, const std::vector<std::vector<TrainResult>>& runs);

// What the tables' Δ column means, and, with fewer than 3 seeds, a warning that the intervals are too wide to tell
// set-ups apart (t is 12.7 for two seeds). One or two lines, each ending in '\n'.
std::string difference_note(const std::vector<SetupSummary>& summaries);

// The aligned text table: set-up | top-1 mean ± std | Δ vs first | runs, and Many / Medium / Few for long-tail runs.
std::string format_compare_table(const std::vector<SetupSummary>& summaries);

// The same table in Markdown, for pasting into a README: set-up | top-1 % (mean ± std) | Δ vs first | runs.
std::string format_compare_markdown(const std::vector<SetupSummary>& summaries);

// A contact sheet of one generative set-up's synthetic samples, drawn from its first seed's cache.
struct SampleGrid {
  std::string setup;
  std::string file;     // the PNG's name inside the comparison's folder: samples-<setup>.png
  std::string cache;    // the cache folder it shows
  int64_t samples = 0;  // samples in that cache
};

// For every set-up with a synthetic cache that holds samples: samples-<setup>.png in `folder`, one row per target
// class with up to `per_class` samples, each captioned source>target and strength. A set-up whose cache is missing
// or unreadable is left out with a warning: the accuracy results do not depend on the pictures.
std::vector<SampleGrid> write_sample_grids(const CompareConfig& compare, const std::string& folder,
                                           int64_t per_class = 8);

// Writes results.csv (one row per run), summary.csv (one row per set-up), summary.md (the table in Markdown),
// accuracy.png (bar chart with error bars), curves.png (mean test top-1 per epoch) and report.html (with the
// sample grids) into `folder`.
void write_compare_outputs(const std::string& folder, const std::vector<SetupSummary>& summaries,
                           const std::vector<std::vector<TrainResult>>& runs,
                           const std::vector<SampleGrid>& sample_grids = {});

}  // namespace dmx::classifier
