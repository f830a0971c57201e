#include "distributed_launch.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "diffmix/cancellation.hpp"
#include "diffmix/distributed.hpp"
#include "diffmix/error.hpp"
#include "process_conventions.hpp"

namespace dmx::cli {
namespace {

using Clock = std::chrono::steady_clock;

// After one rank fails the others are asked to stop (SIGTERM); those still running this long after are killed.
constexpr auto kStopGrace = std::chrono::seconds(30);

std::vector<std::string>& command_line() {
  static std::vector<std::string> arguments;
  return arguments;
}

// The group this process joined. Kept until the process ends (never destroyed: main() reports an error through it
// after the command's own references are gone, and a group torn down at exit could wait on its peers).
std::shared_ptr<dist::ProcessGroup>& joined_group() {
  static auto* group = new std::shared_ptr<dist::ProcessGroup>();
  return *group;
}

// The command line without --nproc-per-node and its value: what each local rank runs.
std::vector<std::string> rank_arguments() {
  std::vector<std::string> arguments;
  const auto& all = command_line();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] == "--nproc-per-node") {
      ++i;
      continue;
    }
    if (all[i].rfind("--nproc-per-node=", 0) == 0) continue;
    arguments.push_back(all[i]);
  }
  return arguments;
}

// A TCP port on the loopback interface that nobody listens on now: rank 0's rendezvous store takes it.
int free_local_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw io_error_from_errno("--nproc-per-node: cannot open a socket to find a free port");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) throw io_error_from_errno("--nproc-per-node: cannot find a free port on 127.0.0.1");
  return ntohs(address.sin_port);
}

// Our environment with the rank's variables in place of any inherited ones.
std::vector<std::string> rank_environment(int rank, int size, int port, int threads) {
  std::vector<std::string> variables;
  for (auto& entry : child_environment(threads)) {
    const std::string name = entry.substr(0, entry.find('='));
    if (name == "RANK" || name == "LOCAL_RANK" || name == "WORLD_SIZE" || name == "LOCAL_WORLD_SIZE" ||
        name == "MASTER_ADDR" || name == "MASTER_PORT")
      continue;
    variables.push_back(std::move(entry));
  }
  for (const auto& [name, value] :
       {std::pair<std::string, int>{"RANK", rank}, {"LOCAL_RANK", rank}, {"WORLD_SIZE", size},
        {"LOCAL_WORLD_SIZE", size}, {"MASTER_PORT", port}})
    variables.push_back(name + "=" + std::to_string(value));
  variables.push_back("MASTER_ADDR=127.0.0.1");
  return variables;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return std::string("was killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

// The local ranks, started and waited for.
class LocalRanks {
 public:
  explicit LocalRanks(int size) : size_(size) {}

  void start() {
    const int port = free_local_port();
    const int threads = std::max(1, available_cores() / size_);
    const std::string program = self_executable();
    const auto arguments = rank_arguments();
    for (int rank = 0; rank < size_; ++rank) {
      auto environment = rank_environment(rank, size_, port, threads);
      const pid_t pid = spawn_child(program, {"rank " + std::to_string(rank), arguments, ""}, environment);
      track_child_process_group(pid);  // its own group: a second Ctrl-C kills it with us
      pids_.push_back(pid);
    }
    spdlog::info("started {} local ranks (127.0.0.1:{}, {} threads each)", size_, port, threads);
  }

  // Waits for every rank. The first to fail stops the others; its exit decides ours.
  void wait() {
    std::vector<bool> running(pids_.size(), true);
    size_t left = pids_.size();
    bool interrupted = false;
    std::optional<Clock::time_point> stopping_since;
    while (left > 0) {
      if (cancel_requested() && !interrupted) {
        interrupted = true;
        signal_running(running, SIGINT);  // each rank saves its state at the step they agree on
      }
      for (size_t rank = 0; rank < pids_.size(); ++rank) {
        if (!running[rank]) continue;
        int status = 0;
        if (waitpid(pids_[rank], &status, WNOHANG) != pids_[rank]) continue;
        running[rank] = false;
        --left;
        untrack_child_process_group(pids_[rank]);
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && !failed_rank_) record_failure(static_cast<int>(rank), status, interrupted);
        if (!ok && !stopping_since && !interrupted) {
          stopping_since = Clock::now();
          signal_running(running, SIGTERM);
        }
      }
      if (stopping_since && Clock::now() - *stopping_since > kStopGrace) signal_running(running, SIGKILL);
      if (left > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (failed_rank_) throw Error(failed_category_, failure_);
    if (interrupted) throw cancelled("interrupted; every rank saved its state: run the same command again to resume");
  }

 private:
  void signal_running(const std::vector<bool>& running, int signal) {
    for (size_t rank = 0; rank < pids_.size(); ++rank)
      if (running[rank]) kill(pids_[rank], signal);
  }

  void record_failure(int rank, int status, bool interrupted) {
    failed_rank_ = rank;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    failed_category_ = WIFEXITED(status) ? category_of_exit(code) : ErrorCategory::Internal;
    if (interrupted && failed_category_ == ErrorCategory::Cancelled) {
      failed_rank_.reset();  // an interrupted rank exits with 130: that is the interrupt, not a failure
      return;
    }
    failure_ = "rank " + std::to_string(rank) + " of " + std::to_string(size_) + " " + describe_exit(status) +
               (WIFEXITED(status) ? " (its message is above)" : "") + "; the other ranks were stopped";
    spdlog::error("{}", failure_);
  }

  int size_;
  std::vector<pid_t> pids_;
  std::optional<int> failed_rank_;
  ErrorCategory failed_category_ = ErrorCategory::Internal;
  std::string failure_;
};

}  // namespace

void add_distributed_options(CLI::App* command, DistributedOptions& options) {
  command
      ->add_option("--nproc-per-node", options.nproc_per_node,
                   "Run data-parallel in N local processes (as torchrun; a process started by torchrun or a "
                   "cluster launcher reads RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT instead)")
      ->check(CLI::Range(1, 1024));
  command->add_option("--dist-backend", options.backend, "gloo or nccl (default: nccl on CUDA, gloo on the CPU)")
      ->check(CLI::IsMember({"gloo", "nccl"}));
  command
      ->add_option("--dist-timeout", options.timeout_s,
                   "Seconds a rank waits for the others in a collective before it reports them (default 1800)")
      ->check(CLI::PositiveNumber);
}

void remember_command_line(int argc, char** argv) {
  command_line().assign(argv + 1, argv + argc);
}

bool run_as_local_ranks(const DistributedOptions& options) {
  if (options.nproc_per_node <= 1) return false;
  if (dist::world_from_environment())
    throw config_error("--nproc-per-node " + std::to_string(options.nproc_per_node) +
                       ": this process is already a rank (WORLD_SIZE is set); start it either way, not both");
  LocalRanks ranks(options.nproc_per_node);
  ranks.start();
  ranks.wait();
  return true;
}

Membership join_group(const DistributedOptions& options, const std::string& device) {
  const auto world = dist::world_from_environment();
  if (!world) return {};
  dist::GroupOptions group_options;
  group_options.backend =
      options.backend.empty() ? dist::default_backend(device) : dist::parse_backend(options.backend);
  group_options.timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000));
  if (world->rank > 0) {
    // N copies of every progress line say nothing more than rank 0's.
    if (spdlog::get_level() == spdlog::level::info) spdlog::set_level(spdlog::level::warn);
    spdlog::set_pattern("[%H:%M:%S.%e] [rank " + std::to_string(world->rank) + "] [%^%l%$] %v");
  }
  auto group = dist::ProcessGroup::connect(*world, group_options);
  joined_group() = group;
  return {group, world->local_rank};
}

std::string device_of_rank(const std::string& device, int local_rank) {
  return device == "cuda" ? "cuda:" + std::to_string(local_rank) : device;
}

void report_failure_to_group(const std::string& message) noexcept {
  if (const auto& group = joined_group()) group->report_failure(message);
}

}  // namespace dmx::cli
