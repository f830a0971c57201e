// `diffmix finetune CONFIG`: fine-tunes Stable Diffusion (textual inversion, LoRA or both) on a dataset. Interrupt
// with Ctrl-C; running the same command again resumes from the last checkpoint.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "config_check.hpp"
#include "distributed_launch.hpp"
#include "diffmix/config.hpp"
#include "diffmix/distributed.hpp"
#include "diffmix/sd_finetune/finetuner.hpp"

namespace dmx::cli {
namespace {

struct FinetuneOptions {
  std::string config_path;
  std::string output;
  bool fresh = false;
  bool check = false;
  DistributedOptions distributed;
};

void run_finetune_command(const FinetuneOptions& options) {
  const auto document = config::Document::parse_file(options.config_path);
  const auto root = document.root();
  auto config = finetune::read_finetune_config(root);
  root.finish();
  if (options.check) return report_config_checked(options.config_path, "finetune");
  if (!options.output.empty()) config.output_dir = options.output;
  if (run_as_local_ranks(options.distributed)) return;
  const Membership membership = join_group(options.distributed, config.device);
  config.device = device_of_rank(config.device, membership.local_rank);

  finetune::FinetuneRunOptions run_options;
  run_options.resume = !options.fresh;
  run_options.group = membership.group;
  const auto result = finetune::run_finetune(config, run_options);
  if (membership.group && !membership.group->is_main()) return;
  std::printf("fine-tuned %s for %lld steps (resumed from %lld), last loss %.4f, %.2f steps/s\n",
              finetune::to_string(config.train.strategy).c_str(), static_cast<long long>(result.steps),
              static_cast<long long>(result.resumed_from), result.last_loss, result.steps_per_second);
  std::printf("LoRA, embeddings and %s in %s\n", finetune::kManifestFile, result.output_dir.c_str());
}

}  // namespace

void add_finetune_command(CLI::App& app) {
  auto options = std::make_shared<FinetuneOptions>();
  auto* cmd = app.add_subcommand("finetune", "Fine-tune Stable Diffusion on a dataset (resumes an interrupted run)");
  cmd->add_option("config", options->config_path, "TOML config ([data], [model], [finetune])")->required();
  cmd->add_option("--output", options->output, "Output folder (overrides the config's `output`)");
  cmd->add_flag("--fresh", options->fresh, "Ignore an existing checkpoint and start over");
  add_check_flag(cmd, options->check);
  add_distributed_options(cmd, options->distributed);
  cmd->callback([options] { run_finetune_command(*options); });
}

}  // namespace dmx::cli
