// Data parallelism on the command line, for `train`, `finetune` and `synthesize`:
//   --nproc-per-node N   runs the same command in N local processes (ranks 0..N-1), as torchrun does;
//   a process started by torchrun, a SLURM script or a Kubernetes job (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   and LOCAL_RANK in its environment) joins the group those describe.
#pragma once

#include <memory>
#include <string>

namespace CLI {
class App;
}
namespace dmx::dist {
class ProcessGroup;
}

namespace dmx::cli {

struct DistributedOptions {
  int nproc_per_node = 0;  // > 1: start that many local ranks
  std::string backend;     // "gloo" or "nccl"; empty: by device (NCCL for CUDA, Gloo for the CPU)
  double timeout_s = 1800;  // how long a collective waits for the slowest rank
};

void add_distributed_options(CLI::App* command, DistributedOptions& options);

// main() keeps the command line, so that --nproc-per-node can start it again.
void remember_command_line(int argc, char** argv);

// With --nproc-per-node N > 1: runs this command line again in N local processes, waits for them all, and returns
// true (or throws the first failed rank's error, after stopping the others). Otherwise returns false and the caller
// runs the command itself.
bool run_as_local_ranks(const DistributedOptions& options);

struct Membership {
  std::shared_ptr<dist::ProcessGroup> group;  // null when the environment describes no group
  int local_rank = 0;
};

// Joins the group the environment describes, with the backend `device` calls for. Ranks other than 0 then log
// warnings and errors only, each line marked with the rank.
Membership join_group(const DistributedOptions& options, const std::string& device);

// "cuda" becomes "cuda:<local_rank>" (each local rank on its own GPU); other devices are kept.
std::string device_of_rank(const std::string& device, int local_rank);

// Leaves this process's error where the other ranks look, so that their messages say why it stopped. Does nothing
// outside a group.
void report_failure_to_group(const std::string& message) noexcept;

}  // namespace dmx::cli
