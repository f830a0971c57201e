// `diffmix report RUN_DIR`: rewrites a comparison's tables, results.json and report from its runs' folders, without
// training anything. RUN_DIR is the output folder of `diffmix compare`; its comparison.json holds the config that
// ran, which says which runs belong to the comparison and where their synthetic caches are.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "comparison_outputs.hpp"
#include "diffmix/config.hpp"

namespace dmx::cli {
namespace {

void run_report(const std::string& run_dir) {
  namespace fs = std::filesystem;
  const std::string output = fs::absolute(run_dir).lexically_normal().string();
  const auto record = classifier::read_comparison_record(output);
  // The config's relative paths (data, caches) are relative to where the comparison ran.
  if (fs::is_directory(record.working_dir)) fs::current_path(record.working_dir);
  const auto document = config::Document::parse_string(record.config_text, record.config_path);
  const auto root = document.root();
  auto matrix = classifier::read_compare_matrix(root);
  root.finish();
  std::vector<classifier::VariantResults> variants;
  for (auto& compare : matrix) {
    classifier::set_comparison_output(compare, output);
    variants.push_back({compare, classifier::read_comparison_runs(compare), {}});
  }
  const std::string report = write_comparison_outputs(output, record, variants);
  std::printf("%s; the report: %s\n", runs_text(variants).c_str(), report.c_str());
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto run_dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("report", "Rewrite a comparison's tables, results.json and HTML report from its runs");
  cmd->add_option("run_dir", *run_dir, "The output folder of `diffmix compare`")->required();
  cmd->callback([run_dir] { run_report(*run_dir); });
}

}  // namespace dmx::cli
