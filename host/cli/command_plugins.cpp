#include <CLI/CLI.hpp>

#include <cstdio>

#include "commands.hpp"

namespace dmx::cli {

void add_plugins_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("plugins", "List the plugins found, their augmenters, and the files refused");
  cmd->callback([] { std::puts("no plugins yet"); });
}

}  // namespace dmx::cli
