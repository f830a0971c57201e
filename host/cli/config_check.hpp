// `--check` on the commands that run from a config: read the config, check every key and value the command knows,
// say so and stop before any dataset, model or plugin is opened. A plugin's own keys (the table of a sample source)
// are checked when the plugin is created, so a run can still refuse those.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

namespace dmx::cli {

inline void add_check_flag(CLI::App* command, bool& check) {
  command->add_flag("--check", check, "Only read and check the config; open no dataset, model or plugin");
}

inline void report_config_checked(const std::string& path, const char* command) {
  std::printf("%s: a valid `diffmix %s` config\n", path.c_str(), command);
}

}  // namespace dmx::cli
