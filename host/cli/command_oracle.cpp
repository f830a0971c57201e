// `diffmix oracle CONFIG --cache DIR...`: a classifier trained on the whole real training set (CONFIG, trained with
// `diffmix train CONFIG` first) judges synthetic caches: how many samples it recognises as their target class, and,
// strength by strength, the probability it gives the target and the source class.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "diffmix/classifier/oracle.hpp"
#include "diffmix/config.hpp"

namespace dmx::cli {
namespace {

struct OracleOptions {
  std::string config_path;
  std::vector<std::string> caches;
  std::string json;
};

void print_report(const classifier::OracleReport& report) {
  std::printf("%s: %lld samples, %.1f%% classified as their target class, mean P(target) %.3f\n",
              report.cache.c_str(), static_cast<long long>(report.samples), report.target_top1 * 100.0,
              report.target_probability);
  std::printf("  strength  samples  P(target)  P(source)  top-1 = target\n");
  for (const auto& row : report.by_strength)
    std::printf("  %8.2f  %7lld  %9.3f  %9.3f  %13.1f%%\n", row.strength, static_cast<long long>(row.samples),
                row.target_probability, row.source_probability, row.target_top1 * 100.0);
  std::printf("  %-16s samples  top-1 = target  most often taken for\n", "target class");
  for (const auto& row : report.by_class) {
    std::printf("  %-16s %7lld  %13.1f%%  %s\n", row.name.c_str(), static_cast<long long>(row.samples),
                row.target_top1 * 100.0,
                row.mistaken_for.empty() ? "-"
                                         : (row.mistaken_for + " (" + std::to_string(static_cast<int>(
                                                                          row.mistaken_share * 100.0 + 0.5)) +
                                            "%)").c_str());
  }
}

void run_oracle(const OracleOptions& options) {
  const auto document = config::Document::parse_file(options.config_path);
  const auto root = document.root();
  const auto config = classifier::read_train_config(root);
  root.finish();
  std::vector<classifier::OracleReport> reports;
  for (const auto& cache : options.caches) {
    reports.push_back(classifier::judge_synthetic_cache(config, cache));
    print_report(reports.back());
  }
  if (!options.json.empty()) {
    classifier::write_oracle_report(options.json, reports);
    std::printf("report in %s\n", options.json.c_str());
  }
}

}  // namespace

void add_oracle_command(CLI::App& app) {
  auto options = std::make_shared<OracleOptions>();
  auto* cmd = app.add_subcommand("oracle", "Judge synthetic caches with a classifier trained on the real data");
  cmd->add_option("config", options->config_path, "the oracle's training config (its output holds model.safetensors)")
      ->required();
  cmd->add_option("--cache", options->caches, "a synthetic cache folder (repeat for several)")->required();
  cmd->add_option("--json", options->json, "also write the figures as JSON to this file");
  cmd->callback([options] { run_oracle(*options); });
}

}  // namespace dmx::cli
