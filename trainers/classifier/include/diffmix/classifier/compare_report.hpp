// What a comparison leaves behind besides its runs: comparison.json (what made it), results.json (every number) and
// report/ (a folder that opens from disk in any browser, with no network).
//
//   <output>/comparison.json   the config text, where it ran, and the versions of diffmix, LibTorch and the plugins
//   <output>/results.json      every variant, set-up and run: status, error, top-1, per class, curves, groups
//   <output>/report/index.html the report: tables, charts (Chart.js, bundled with its licence), per-class heat maps,
//                              synthetic samples with their labels, the config, the data and the versions
//
// `diffmix compare` writes all three; `diffmix report RUN_DIR` rewrites the last two from the runs' folders alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diffmix/classifier/compare.hpp"
#include "diffmix/registry.hpp"

namespace dmx::classifier {

inline constexpr const char* kComparisonRecordFileName = "comparison.json";

// What made a comparison, recorded when it starts.
struct ComparisonRecord {
  std::string config_path;   // as given on the command line
  std::string config_text;
  std::string working_dir;   // where the config's relative paths resolve
  std::string started;       // UTC, ISO 8601
  std::string diffmix_version;
  std::string libtorch_version;
  std::string plugin_abi;    // "major.minor" of the host
  std::vector<PluginInfo> plugins;  // every plugin the registry loaded
};

// The record of a comparison about to run `config_path` with the plugins of `registry`.
ComparisonRecord describe_comparison(const std::string& config_path, const PluginRegistry& registry);
void write_comparison_record(const std::string& output, const ComparisonRecord& record);
// A NotFound error when `output` has no comparison.json, a Format error naming the file when it is malformed.
ComparisonRecord read_comparison_record(const std::string& output);

// One variant's comparison with its runs as found and their summary.
struct VariantResults {
  CompareConfig compare;
  ComparisonRuns runs;
  std::vector<SetupSummary> summaries;
};

// The mean ± std of every set-up in every variant, set-ups down and variants across, in Markdown: the matrix at a
// glance. Empty for a comparison without variants.
std::string format_matrix_markdown(const std::vector<VariantResults>& variants);

// Writes <output>/results.json.
void write_results_json(const std::string& output, const ComparisonRecord& record,
                        const std::vector<VariantResults>& variants);

struct ReportOptions {
  int64_t sample_classes = 10;  // target classes shown per generative set-up (spread over the classes)
  int64_t samples_per_class = 4;
  int64_t tile_size = 96;       // sample images are scaled down to at most this side
};

// Writes <output>/report/ (index.html, its script, style and data, Chart.js and its licence, sample tiles) and returns
// the path of index.html. A set-up whose synthetic cache cannot be read is shown without samples, with a warning.
std::string write_report(const std::string& output, const ComparisonRecord& record,
                         const std::vector<VariantResults>& variants, const ReportOptions& options = {});

}  // namespace dmx::classifier
