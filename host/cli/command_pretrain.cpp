// `diffmix pretrain CONFIG`: trains a small Stable Diffusion 1.x model from scratch on a dataset's training images
// and writes it as a diffusers folder. Interrupt with Ctrl-C; running the same command again resumes.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "config_check.hpp"
#include "diffmix/config.hpp"
#include "diffmix/sd_pretrain/pretrainer.hpp"

namespace dmx::cli {
namespace {

struct PretrainOptions {
  std::string config_path;
  std::string output;
  bool fresh = false;
  bool check = false;
};

void run_pretrain_command(const PretrainOptions& options) {
  const auto document = config::Document::parse_file(options.config_path);
  const auto root = document.root();
  auto config = pretrain::read_pretrain_config(root);
  root.finish();
  if (options.check) return report_config_checked(options.config_path, "pretrain");
  if (!options.output.empty()) config.output_dir = options.output;

  pretrain::PretrainRunOptions run_options;
  run_options.resume = !options.fresh;
  const auto result = pretrain::run_pretrain(config, run_options);
  std::printf("VAE: %lld steps (%.3f s/step), last loss %.4f; latent scaling_factor %.5f\n",
              static_cast<long long>(result.vae.steps), result.vae.seconds_per_step, result.vae.last_loss,
              result.scaling_factor);
  std::printf("UNet: %lld steps (%.3f s/step), last loss %.4f\n", static_cast<long long>(result.unet.steps),
              result.unet.seconds_per_step, result.unet.last_loss);
  if (result.vae_decoder.steps > 0) {
    std::printf("VAE decoder: %lld steps (%.3f s/step), last loss %.4f\n",
                static_cast<long long>(result.vae_decoder.steps), result.vae_decoder.seconds_per_step,
                result.vae_decoder.last_loss);
  }
  std::printf("parameters: text encoder %lld, VAE %lld, UNet %lld\n",
              static_cast<long long>(result.text_encoder_parameters), static_cast<long long>(result.vae_parameters),
              static_cast<long long>(result.unet_parameters));
  std::printf("Stable Diffusion folder in %s\n", result.output_dir.c_str());
}

}  // namespace

void add_pretrain_command(CLI::App& app) {
  auto options = std::make_shared<PretrainOptions>();
  auto* cmd = app.add_subcommand("pretrain", "Train a small Stable Diffusion model from scratch (resumes an interrupted run)");
  cmd->add_option("config", options->config_path, "TOML config ([data], [pretrain], [vae], [unet], [text_encoder])")
      ->required();
  cmd->add_option("--output", options->output, "Output model folder (overrides the config's `output`)");
  cmd->add_flag("--fresh", options->fresh, "Ignore an existing checkpoint and start over");
  add_check_flag(cmd, options->check);
  cmd->callback([options] { run_pretrain_command(*options); });
}

}  // namespace dmx::cli
