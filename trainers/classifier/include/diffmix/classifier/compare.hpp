// compare: the same training run for several augmenter set-ups × seeds (× data variants), summarised as mean ± std
// top-1 and each set-up's difference to the first, paired by seed.
//
//   [compare]
//   seeds = [0, 1, 2]
//   [[compare.setup]]
//   name = "none"
//   [[compare.setup]]
//   name = "cutmix"
//   augment = [{ augmenter = "cutmix", alpha = 1.0, prob = 0.5 }]
//   [[compare.setup]]
//   name = "diff_mix"
//   synthetic = { cache = "cache/diff_mix", source = { augmenter = "diff_mix", ... }, synchronous = true }
//   [[compare.variant]]          # optional: the matrix's third axis, each variant overriding keys of [data]
//   name = "5-shot"
//   data = { shots = 5 }
//
// Every other section is the one-run config (train_config.hpp); a set-up's `augment` replaces the top-level
// [[augment]] and its `synthetic` the top-level [synthetic]. Run r of set-up s writes into
// <output>[/<variant>]/<s>/seed-<r>/ and resumes or is skipped like a single run, so an interrupted comparison
// continues where it stopped. A run that fails is recorded in its folder (failed.json) and the others go on.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diffmix/classifier/paired_difference.hpp"
#include "diffmix/error.hpp"
#include "diffmix/classifier/train_config.hpp"
#include "diffmix/classifier/trainer.hpp"

namespace dmx::classifier {

struct CompareSetup {
  std::string name;
  std::vector<config::Table> augment;
  // The set-up's own `synthetic = { ... }` (the keys of [synthetic]), in place of the config's [synthetic]: how one
  // comparison sets a diffusion augmenter against the batch augmenters and real data alone.
  std::optional<SyntheticSettings> synthetic;
  // In a variant: the copy of the set-up's `synthetic` table with {variant} replaced, which `synthetic` points into.
  std::vector<std::shared_ptr<const toml::table>> variant_tables;
};

// One comparison: the set-ups × seeds of one data variant.
struct CompareConfig {
  TrainConfig base;  // with the variant's [data] and output folder
  std::vector<uint64_t> seeds{0};
  std::vector<CompareSetup> setups;
  int64_t jobs = 1;  // runs at once (`diffmix compare` starts a process per run when > 1)
  std::string variant;  // the [[compare.variant]] name; empty in a config without variants
  std::string output;   // the comparison's folder (`output`): base.output_dir is <output>/<variant> in a variant
};

// Moves a comparison's runs to another folder (`diffmix compare --output`, `diffmix report RUN_DIR`).
void set_comparison_output(CompareConfig& compare, const std::string& output);

// Reads the one-run sections and [compare]: one CompareConfig per [[compare.variant]] (its `data` keys replace those
// of [data]; its runs go to <output>/<variant>/), or one for a config without variants. In a variant, "{variant}" in
// any string of a set-up's `synthetic` table (a cache, a source's `finetuned` folder) is replaced by the variant's
// name, and a streamed cache gets /<variant> before its /seed-<n> unless its path names {variant}: a fine-tuned
// model or a cache made from one variant's data is never reused for another's. Set-up and variant names must be
// unique and usable as folder names. Every variant has the same set-ups, seeds and training settings.
std::vector<CompareConfig> read_compare_matrix(const config::Table& root);

// The same for a config without [[compare.variant]] (a Config error names the first variant otherwise).
CompareConfig read_compare_config(const config::Table& root);

// The one-run config of set-up `setup` with `seed`.
TrainConfig setup_run_config(const CompareConfig& compare, const CompareSetup& setup, uint64_t seed);

// Builds every set-up's augmenters and streamed sources once (created, not prepared: no model is loaded), so that a
// typo in the last set-up fails before the first one runs.
void check_comparison(const CompareConfig& compare, PluginRegistry& registry);

// One run of the matrix as the comparison found it: finished (`result`), failed (`error`), or not run yet.
struct RunOutcome {
  uint64_t seed = 0;
  std::string output_dir;
  std::optional<TrainResult> result;
  std::string error;  // why the run failed or has no result; empty when `result` is set
  bool failed = false;  // it ran and failed (else, without a result, it has not finished)
  ErrorCategory error_category = ErrorCategory::Internal;  // of the failure
  bool ok() const { return result.has_value(); }
};
using ComparisonRuns = std::vector<std::vector<RunOutcome>>;  // [set-up][seed]

// The file in a run's folder that says why it failed: {"error": "...", "log": "..."}. Removed when the run starts
// again.
inline constexpr const char* kRunFailureFileName = "failed.json";
void record_run_failure(const std::string& output_dir, const std::string& error, const std::string& log_path = "");

// Trains one run and returns its outcome: a dmx::Error other than Cancelled and Busy (which propagate: the run is
// not at fault) is recorded in the run's failed.json and returned as a failed outcome.
RunOutcome run_and_record(const TrainConfig& run, PluginRegistry& registry, const RunOptions& options = {});

// Runs every set-up × seed in order (a finished run is only re-read from its result); a failed run is recorded and
// the comparison goes on.
ComparisonRuns run_comparison(const CompareConfig& compare, PluginRegistry& registry, const RunOptions& options = {});

// What the runs' folders hold, without training or opening any data: each run's result.json (when it finished with
// the settings of `compare`), else its failed.json, else "not finished". How `diffmix report` and a parallel
// comparison read the runs back.
ComparisonRuns read_comparison_runs(const CompareConfig& compare);

// How many runs of `runs` failed or have no result.
int64_t unfinished_runs(const ComparisonRuns& runs);

struct SetupSummary {
  std::string name;
  std::vector<uint64_t> seeds;      // of the finished runs
  std::vector<double> top1;         // one per finished run, fractions
  int64_t planned = 0;              // runs in the matrix (seeds)
  std::vector<std::string> errors;  // "seed <n>: <why>" for every run that failed or has no result
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

// Mean, sample standard deviation and Δ of the first set-up over the finished runs; `runs[s][r]` is set-up s, seed r.
// Δ pairs the seeds that finished in both set-ups.
std::vector<SetupSummary> summarise(const CompareConfig& compare, const ComparisonRuns& runs);

// A set-up's Δ to the first, in points, with its 95 % interval: "+0.52 [-0.10, +1.14]", and " *" when the interval
// excludes zero; "—" for the baseline itself.
std::string difference_text(const SetupSummary& summary, bool baseline);

// What the tables' Δ column means, and, with fewer than 3 seeds, a warning that the intervals are too wide to tell
// set-ups apart (t is 12.7 for two seeds). One or two lines, each ending in '\n'.
std::string difference_note(const std::vector<SetupSummary>& summaries);

// The aligned text table: set-up | top-1 mean ± std | Δ vs first | runs, and Many / Medium / Few for long-tail runs.
std::string format_compare_table(const std::vector<SetupSummary>& summaries);

// The same table in Markdown, for pasting into a README: set-up | top-1 % (mean ± std) | Δ vs first | runs.
std::string format_compare_markdown(const std::vector<SetupSummary>& summaries);

// Writes results.csv (one row per run, with its status), summary.csv (one row per set-up) and summary.md (the table in
// Markdown) into `folder`.
void write_compare_tables(const std::string& folder, const std::vector<SetupSummary>& summaries,
                          const ComparisonRuns& runs);

}  // namespace dmx::classifier
