// `diffmix train CONFIG`: one classifier training run. Interrupt with Ctrl-C; running the same command again resumes.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "config_check.hpp"
#include "distributed_launch.hpp"
#include "diffmix/classifier/trainer.hpp"
#include "diffmix/config.hpp"
#include "diffmix/distributed.hpp"
#include "diffmix/registry.hpp"

namespace dmx::cli {
namespace {

struct TrainOptions {
  std::string config_path;
  std::string output;
  bool fresh = false;
  bool check = false;
  DistributedOptions distributed;
};

void run_train(const TrainOptions& options) {
  const auto document = config::Document::parse_file(options.config_path);
  const auto root = document.root();
  auto config = classifier::read_train_config(root);
  root.finish();
  if (options.check) return report_config_checked(options.config_path, "train");
  if (!options.output.empty()) config.output_dir = options.output;
  if (run_as_local_ranks(options.distributed)) return;
  const Membership membership = join_group(options.distributed, config.device);
  config.device = device_of_rank(config.device, membership.local_rank);

  RegistryOptions registry_options;
  registry_options.search_paths = config.plugin_paths;
  PluginRegistry registry(registry_options);
  classifier::RunOptions run_options;
  run_options.resume = !options.fresh;
  run_options.group = membership.group;
  const auto result = classifier::train_classifier(config, registry, run_options);
  if (membership.group && !membership.group->is_main()) return;

  std::printf("test top-1 %.2f%% (mean per class %.2f%%) on %lld images\n", result.top1 * 100.0,
              result.mean_per_class * 100.0, static_cast<long long>(result.test_size));
  for (size_t k = 0; k < result.per_class.size() && k < result.class_names.size(); ++k)
    std::printf("  %-24s %6.2f%%\n", result.class_names[k].c_str(), result.per_class[k] * 100.0);
  std::printf("metrics, checkpoint and weights in %s\n", result.output_dir.c_str());
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto* cmd = app.add_subcommand("train", "Train a classifier as the config says (resumes an interrupted run)");
  cmd->add_option("config", options->config_path, "TOML config ([data], [backbone], [train], [[augment]], ...)")
      ->required();
  cmd->add_option("--output", options->output, "Output folder (overrides the config's `output`)");
  cmd->add_flag("--fresh", options->fresh, "Ignore an existing checkpoint and start over");
  add_check_flag(cmd, options->check);
  add_distributed_options(cmd, options->distributed);
  cmd->callback([options] { run_train(*options); });
}

}  // namespace dmx::cli
