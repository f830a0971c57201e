// How `diffmix compare` and `diffmix report` both end: the runs of every variant summarised, printed, and written as
// tables, results.json and the report.
#pragma once

#include <string>
#include <vector>

#include "diffmix/classifier/compare_report.hpp"

namespace dmx::cli {

// Fills each variant's summaries, writes <variant folder>/{results.csv, summary.csv, summary.md},
// <output>/{results.json, matrix.md} and <output>/report/, prints every table, and returns the report's index.html.
std::string write_comparison_outputs(const std::string& output, const classifier::ComparisonRecord& record,
                                     std::vector<classifier::VariantResults>& variants);

// "22 runs", or "20 of 22 runs finished".
std::string runs_text(const std::vector<classifier::VariantResults>& variants);

// A dmx::Error naming how many runs failed or did not finish, and where their errors are; nothing when all finished.
void throw_if_runs_failed(const std::vector<classifier::VariantResults>& variants, const std::string& output);

}  // namespace dmx::cli
