// `diffmix compare CONFIG`: the same run for each augmenter set-up × seed; prints mean ± std top-1 per set-up and
// the difference to the first, and writes results.csv, summary.csv, summary.md, accuracy.png, curves.png, a sample grid
// per generative set-up and report.html.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "diffmix/classifier/compare.hpp"
#include "diffmix/config.hpp"
#include "diffmix/progress.hpp"
#include "diffmix/registry.hpp"

namespace dmx::cli {
namespace {

struct CompareOptions {
  std::string config_path;
  std::string output;
  bool fresh = false;
};

void run_compare(const CompareOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const auto document = config::Document::parse_file(options.config_path);
  const auto root = document.root();
  auto compare = classifier::read_compare_config(root);
  root.finish();
  if (!options.output.empty()) compare.base.output_dir = options.output;

  RegistryOptions registry_options;
  registry_options.search_paths = compare.base.plugin_paths;
  PluginRegistry registry(registry_options);
  classifier::RunOptions run_options;
  run_options.resume = !options.fresh;
  const auto runs = classifier::run_comparison(compare, registry, run_options);
  const auto summaries = classifier::summarise(compare, runs);
  const auto grids = classifier::write_sample_grids(compare, compare.base.output_dir);
  classifier::write_compare_outputs(compare.base.output_dir, summaries, runs, grids);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\n%s\n", classifier::format_compare_table(summaries).c_str());
  std::printf("%zu runs in %s; results.csv, summary.csv, summary.md, accuracy.png, curves.png and report.html in %s\n",
              summaries.size() * compare.seeds.size(), format_duration(seconds).c_str(),
              compare.base.output_dir.c_str());
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto options = std::make_shared<CompareOptions>();
  auto* cmd = app.add_subcommand("compare", "Train once per augmenter set-up and seed; tabulate mean ± std top-1");
  cmd->add_option("config", options->config_path, "TOML config with [compare] seeds and [[compare.setup]] entries")
      ->required();
  cmd->add_option("--output", options->output, "Output folder (overrides the config's `output`)");
  cmd->add_flag("--fresh", options->fresh, "Ignore existing checkpoints and start every run over");
  cmd->callback([options] { run_compare(*options); });
}

}  // namespace dmx::cli
