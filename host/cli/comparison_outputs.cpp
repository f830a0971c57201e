#include "comparison_outputs.hpp"

#include <cstdio>

#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"

namespace dmx::cli {
namespace {

int64_t planned_runs(const std::vector<classifier::VariantResults>& variants) {
  int64_t planned = 0;
  for (const auto& variant : variants)
    for (const auto& setup : variant.runs) planned += static_cast<int64_t>(setup.size());
  return planned;
}

int64_t unfinished(const std::vector<classifier::VariantResults>& variants) {
  int64_t count = 0;
  for (const auto& variant : variants) count += classifier::unfinished_runs(variant.runs);
  return count;
}

}  // namespace

std::string write_comparison_outputs(const std::string& output, const classifier::ComparisonRecord& record,
                                     std::vector<classifier::VariantResults>& variants) {
  for (auto& variant : variants) {
    variant.summaries = classifier::summarise(variant.compare, variant.runs);
    classifier::write_compare_tables(variant.compare.base.output_dir, variant.summaries, variant.runs);
    if (!variant.compare.variant.empty()) std::printf("\nvariant %s:", variant.compare.variant.c_str());
    std::printf("\n%s", classifier::format_compare_table(variant.summaries).c_str());
  }
  if (const std::string matrix = classifier::format_matrix_markdown(variants); !matrix.empty()) {
    std::printf("\ntop-1 %% (mean ± std) of every set-up in every variant:\n%s", matrix.c_str());
    io::write_file_atomic(output + "/matrix.md", matrix.data(), matrix.size());
  }
  std::printf("\n");
  classifier::write_results_json(output, record, variants);
  return classifier::write_report(output, record, variants);
}

std::string runs_text(const std::vector<classifier::VariantResults>& variants) {
  const int64_t planned = planned_runs(variants), missing = unfinished(variants);
  if (missing == 0) return std::to_string(planned) + " runs";
  return std::to_string(planned - missing) + " of " + std::to_string(planned) + " runs finished";
}

void throw_if_runs_failed(const std::vector<classifier::VariantResults>& variants, const std::string& output) {
  const int64_t missing = unfinished(variants);
  if (missing == 0) return;
  for (const auto& variant : variants)
    for (const auto& setup : variant.runs)
      for (const auto& run : setup)
        if (run.failed) throw Error(run.error_category, std::to_string(missing) + " of " + std::to_string(planned_runs(variants)) +
                                        " runs failed; the table and the report leave them out and show why (" +
                                        output + "/results.json, and failed.json in each run's folder). First: " +
                                        run.output_dir + ": " + run.error);
  throw not_found(std::to_string(missing) + " runs have no result; see " + output + "/results.json");
}

}  // namespace dmx::cli
