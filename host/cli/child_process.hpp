// Starting copies of this diffmix binary as child processes: the worker runs of `diffmix compare --jobs` and the
// local ranks of `--nproc-per-node`.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace dmx::cli {

// The path of the running diffmix binary (/proc/self/exe).
std::string self_executable();

// This process's environment as NAME=VALUE strings, with OMP_NUM_THREADS=threads added unless the user set it.
std::vector<std::string> child_environment(int threads);

struct ChildSpec {
  std::string label;                   // "diff_gen seed 0", "rank 1", for messages
  std::vector<std::string> arguments;  // after the program name
  std::string log_path;                // the child's stdout and stderr, appended; empty: ours
};

// Starts the child in a process group of its own, so that a Ctrl-C reaches it once, through us; an I/O error naming
// the label when it cannot start.
pid_t spawn_child(const std::string& program, const ChildSpec& child, std::vector<std::string>& environment);

}  // namespace dmx::cli
