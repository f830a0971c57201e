// Runs the `diffmix` command line of the build tree as a user would, for tests of the CLI.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/test_env.hpp"

namespace dmx::test {

struct CliRun {
  int exit_code = -1;  // -1: not started, or ended by a signal
  std::string output;  // stdout and stderr together
};

// `diffmix <arguments>` through the shell (so arguments are shell words), waiting for it to end.
inline CliRun run_cli(const std::string& arguments) {
  const std::string line = cli_path() + " " + arguments + " 2>&1";
  CliRun result;
  FILE* pipe = ::popen(line.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// `diffmix <arguments>` through the shell with stdout and stderr into the file `log`; its exit code (-1 when it
// ended by a signal).
inline int run_cli(const std::string& arguments, const std::string& log) {
  const auto command = cli_path() + " " + arguments + " > " + log + " 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace dmx::test
