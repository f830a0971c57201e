// diffmix: the command line. Subcommands live in command_*.cpp; this file parses, dispatches and turns errors
// into messages and exit codes.
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "commands.hpp"
#include "diffmix/cancellation.hpp"
#include "diffmix/error.hpp"
#include "diffmix/log.hpp"

namespace {

// Exit codes follow sysexits.h where one fits, so scripts can tell a bad config from a failed run.
int exit_code_for(dmx::ErrorCategory category) {
  switch (category) {
    case dmx::ErrorCategory::InvalidArgument: return 64;  // EX_USAGE
    case dmx::ErrorCategory::Config: return 78;           // EX_CONFIG
    case dmx::ErrorCategory::NotFound: return 66;         // EX_NOINPUT
    case dmx::ErrorCategory::Format: return 65;           // EX_DATAERR
    case dmx::ErrorCategory::Io: return 74;               // EX_IOERR
    case dmx::ErrorCategory::Cancelled: return 130;       // as if interrupted
    case dmx::ErrorCategory::Busy: return 75;             // EX_TEMPFAIL: another process holds a folder it needs
    default: return 1;
  }
}

// LibTorch's OpenMP default can come out as one thread on small machines; without an explicit OMP_NUM_THREADS the
// command uses every core it may run on. Configs that need bit-exact resumes set their own thread count.
void use_available_cores() {
  if (std::getenv("OMP_NUM_THREADS")) return;
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) > 0) at::set_num_threads(CPU_COUNT(&cpus));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"diffmix: generative and classic augmentation for LibTorch image classifiers"};
  app.require_subcommand(1);
  std::string log_level;
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (default: $SPDLOG_LEVEL or info)");
  app.parse_complete_callback([&log_level] { dmx::log::setup(log_level); });
  dmx::cli::add_plugins_command(app);
  dmx::cli::add_sd_command(app);
  dmx::cli::add_train_command(app);
  dmx::cli::add_compare_command(app);
  dmx::cli::add_finetune_command(app);
  dmx::cli::add_synthesize_command(app);
  dmx::cli::add_grid_command(app);
  dmx::cli::add_oracle_command(app);
  dmx::cli::add_pretrain_command(app);
  dmx::install_cancel_signal_handlers();
  use_available_cores();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dmx::Error& e) {
    std::fprintf(stderr, "diffmix: %s: %s\n", std::string(dmx::to_string(e.category())).c_str(), e.what());
    return exit_code_for(e.category());
  } catch (const c10::Error& e) {
    // LibTorch's own message, without the C++ stack trace its what() appends: one line, like every other error.
    std::fprintf(stderr, "diffmix: error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "diffmix: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
