// diffmix: the command line. Subcommands live in command_*.cpp; this file parses, dispatches and turns errors
// into messages and exit codes.
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "commands.hpp"
#include "distributed_launch.hpp"
#include "process_conventions.hpp"
#include "diffmix/cancellation.hpp"
#include "diffmix/error.hpp"
#include "diffmix/log.hpp"
#include "diffmix/version.hpp"

namespace {

// LibTorch's OpenMP default can come out as one thread on small machines; without an explicit OMP_NUM_THREADS the
// command uses every core it may run on. Configs that need bit-exact resumes set their own thread count.
void use_available_cores() {
  if (std::getenv("OMP_NUM_THREADS")) return;
  at::set_num_threads(dmx::cli::available_cores());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"diffmix: generative and classic augmentation for LibTorch image classifiers"};
  app.require_subcommand(1);
  // What a bug report needs: this build's version and the LibTorch it runs on.
  app.set_version_flag("--version",
                       std::string("diffmix ") + DIFFMIX_VERSION_STRING + " (LibTorch " + TORCH_VERSION + ")");
  std::string log_level;
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (default: $SPDLOG_LEVEL or info)");
  app.parse_complete_callback([&log_level] { dmx::log::setup(log_level); });
  dmx::cli::add_plugins_command(app);
  dmx::cli::add_sd_command(app);
  dmx::cli::add_train_command(app);
  dmx::cli::add_compare_command(app);
  dmx::cli::add_report_command(app);
  dmx::cli::add_finetune_command(app);
  dmx::cli::add_synthesize_command(app);
  dmx::cli::add_grid_command(app);
  dmx::cli::add_oracle_command(app);
  dmx::cli::add_pretrain_command(app);
  dmx::cli::add_dataset_command(app);
  dmx::install_cancel_signal_handlers();
  dmx::cli::remember_command_line(argc, argv);
  use_available_cores();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dmx::Error& e) {
    const std::string message = std::string(dmx::to_string(e.category())) + ": " + e.what();
    std::fprintf(stderr, "diffmix: %s\n", message.c_str());
    if (e.category() != dmx::ErrorCategory::Cancelled) dmx::cli::report_failure_to_group(message);
    return dmx::cli::exit_code_for(e.category());
  } catch (const c10::Error& e) {
    // LibTorch's own message, without the C++ stack trace its what() appends: one line, like every other error.
    std::fprintf(stderr, "diffmix: error: %s\n", e.what_without_backtrace());
    dmx::cli::report_failure_to_group(e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "diffmix: error: %s\n", e.what());
    dmx::cli::report_failure_to_group(e.what());
    return 1;
  }
  return 0;
}
