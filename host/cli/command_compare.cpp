// `diffmix compare CONFIG`: the same run for each augmenter set-up × seed (× data variant); prints mean ± std top-1
// per set-up and the difference to the first, and writes the tables, results.json and the report
// (comparison_outputs.hpp). With jobs > 1 the runs go to child processes (worker_processes.hpp), each of which is
// this command again with --run-setup, --run-seed and --run-variant.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "config_check.hpp"
#include "comparison_outputs.hpp"
#include "diffmix/classifier/compare.hpp"
#include "diffmix/classifier/compare_report.hpp"
#include "diffmix/config.hpp"
#include "diffmix/error.hpp"
#include "diffmix/progress.hpp"
#include "diffmix/registry.hpp"
#include "process_conventions.hpp"
#include "worker_processes.hpp"

namespace dmx::cli {
namespace {

struct CompareOptions {
  std::string config_path;
  std::string output;
  bool fresh = false;
  bool check = false;
  int jobs = 0;  // 0: the config's [compare] jobs
  std::string run_setup;  // set: run only this set-up with run_seed (a worker process)
  std::string run_variant;
  uint64_t run_seed = 0;
};

// One run of the matrix, in a worker process. A failure is recorded in the run's folder by run_and_record and ends
// the process with the error's exit code.
void run_one(const std::vector<classifier::CompareConfig>& matrix, PluginRegistry& registry,
             const CompareOptions& options) {
  const auto compare = std::find_if(matrix.begin(), matrix.end(), [&](const classifier::CompareConfig& c) {
    return c.variant == options.run_variant;
  });
  if (compare == matrix.end())
    throw invalid_argument("--run-variant: " + options.config_path + " has no variant named '" + options.run_variant + "'");
  const auto setup = std::find_if(compare->setups.begin(), compare->setups.end(),
                                  [&](const classifier::CompareSetup& s) { return s.name == options.run_setup; });
  if (setup == compare->setups.end())
    throw invalid_argument("--run-setup: " + options.config_path + " has no set-up named '" + options.run_setup + "'");
  classifier::RunOptions run_options;
  run_options.resume = !options.fresh;
  const auto outcome = classifier::run_and_record(classifier::setup_run_config(*compare, *setup, options.run_seed),
                                                  registry, run_options);
  if (!outcome.ok()) throw Error(outcome.error_category, outcome.error);
  std::printf("test top-1 %.2f%%\n", outcome.result->top1 * 100.0);
}

// How many steps a run's sample source fine-tunes before it makes its first sample: its `finetune.steps`, the
// diffusion sources' key (docs/diffusion.md); 0 for a run without a source or a source that does not fine-tune.
int64_t finetune_steps(const classifier::TrainConfig& run) {
  if (!run.synthetic.stream) return 0;
  return run.synthetic.stream->source.raw()["finetune"]["steps"].value_or(int64_t{0});
}

// Every run of the matrix as a worker process, in the order they start. Set-ups with a sample source go first: they
// take longest. Among them the longest fine-tuning goes first, as a fine-tuned model that several set-ups share is
// what the comparison would otherwise end up waiting for; the runs that need it meanwhile are sent back to the queue.
std::vector<WorkerRun> worker_runs(const std::vector<classifier::CompareConfig>& matrix, const CompareOptions& options) {
  struct Planned {
    WorkerRun worker;
    bool streams = false;
    int64_t finetune_steps = 0;
  };
  std::vector<Planned> planned;
  for (const auto& compare : matrix) {
    for (const auto& setup : compare.setups) {
      for (uint64_t seed : compare.seeds) {
        const auto run = classifier::setup_run_config(compare, setup, seed);
        Planned plan;
        plan.worker.label = (compare.variant.empty() ? "" : compare.variant + " ") + setup.name + " seed " +
                            std::to_string(seed);
        plan.worker.arguments = {"compare", options.config_path, "--output", compare.output, "--run-setup",
                                 setup.name, "--run-seed", std::to_string(seed)};
        if (!compare.variant.empty()) plan.worker.arguments.insert(plan.worker.arguments.end(), {"--run-variant", compare.variant});
        if (options.fresh) plan.worker.arguments.push_back("--fresh");
        plan.worker.log_path = run.output_dir + "/run.log";
        plan.streams = run.synthetic.stream.has_value();
        plan.finetune_steps = finetune_steps(run);
        planned.push_back(std::move(plan));
      }
    }
  }
  std::stable_sort(planned.begin(), planned.end(), [](const Planned& a, const Planned& b) {
    return std::make_pair(a.streams, a.finetune_steps) > std::make_pair(b.streams, b.finetune_steps);
  });
  std::vector<WorkerRun> runs;
  for (auto& plan : planned) runs.push_back(std::move(plan.worker));
  return runs;
}

// Runs every run of the matrix in `jobs` worker processes. A worker that died without saying why (a signal, an
// out-of-memory kill) gets its failed.json from here.
void run_in_workers(const std::vector<classifier::CompareConfig>& matrix, PluginRegistry& registry,
                    const CompareOptions& options, int jobs) {
  for (const auto& compare : matrix) classifier::check_comparison(compare, registry);
  WorkerOptions workers;
  workers.jobs = jobs;
  workers.threads_per_job = std::max(1, available_cores() / jobs);
  const auto runs = worker_runs(matrix, options);
  std::printf("[compare] %zu runs, %d at a time, %d thread(s) each\n", runs.size(), jobs, workers.threads_per_job);
  for (const auto& failure : run_in_worker_processes(runs, workers)) {
    const std::string folder = std::filesystem::path(failure.run.log_path).parent_path().string();
    if (!std::filesystem::exists(folder + "/" + classifier::kRunFailureFileName))
      classifier::record_run_failure(folder, failure.message, failure.run.log_path);
  }
}

void run_compare(const CompareOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const auto document = config::Document::parse_file(options.config_path);
  const auto root = document.root();
  auto matrix = classifier::read_compare_matrix(root);
  root.finish();
  if (options.check) return report_config_checked(options.config_path, "compare");
  if (!options.output.empty())
    for (auto& compare : matrix) classifier::set_comparison_output(compare, options.output);
  const std::string output = matrix.front().output;

  RegistryOptions registry_options;
  registry_options.search_paths = matrix.front().base.plugin_paths;
  PluginRegistry registry(registry_options);
  if (!options.run_setup.empty()) return run_one(matrix, registry, options);

  const auto record = classifier::describe_comparison(options.config_path, registry);
  classifier::write_comparison_record(output, record);
  const int jobs = options.jobs > 0 ? options.jobs : static_cast<int>(matrix.front().jobs);
  std::vector<classifier::VariantResults> variants;
  if (jobs > 1) {
    run_in_workers(matrix, registry, options, jobs);
    for (const auto& compare : matrix) variants.push_back({compare, classifier::read_comparison_runs(compare), {}});
  } else {
    classifier::RunOptions run_options;
    run_options.resume = !options.fresh;
    for (const auto& compare : matrix)
      variants.push_back({compare, classifier::run_comparison(compare, registry, run_options), {}});
  }
  const std::string report = write_comparison_outputs(output, record, variants);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s in %s; tables in %s, the report in %s\n", runs_text(variants).c_str(),
              format_duration(seconds).c_str(), output.c_str(), report.c_str());
  throw_if_runs_failed(variants, output);
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto options = std::make_shared<CompareOptions>();
  auto* cmd = app.add_subcommand("compare", "Train once per augmenter set-up and seed; tabulate mean ± std top-1");
  cmd->add_option("config", options->config_path, "TOML config with [compare] seeds and [[compare.setup]] entries")
      ->required();
  cmd->add_option("--output", options->output, "Output folder (overrides the config's `output`)");
  cmd->add_flag("--fresh", options->fresh, "Ignore existing checkpoints and start every run over");
  add_check_flag(cmd, options->check);
  cmd->add_option("--jobs", options->jobs, "Runs at once, each in its own process (default: [compare] jobs, else 1)")
      ->check(CLI::Range(1, 256));
  // A worker process of a parallel comparison runs one set-up with one seed (hidden: the parent passes them).
  cmd->add_option("--run-setup", options->run_setup)->group("");
  cmd->add_option("--run-seed", options->run_seed)->group("");
  cmd->add_option("--run-variant", options->run_variant)->group("");
  cmd->callback([options] { run_compare(*options); });
}

}  // namespace dmx::cli
