#include "worker_processes.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <thread>

#include "diffmix/cancellation.hpp"
#include "diffmix/error.hpp"
#include "diffmix/progress.hpp"
#include "child_process.hpp"
#include "process_conventions.hpp"

namespace dmx::cli {
namespace {

using Clock = std::chrono::steady_clock;
const int kBusyExit = exit_code_for(ErrorCategory::Busy);

struct Pending {
  WorkerRun run;
  Clock::time_point not_before;
  size_t order = 0;     // position in the list the runs were given in
  bool waited = false;  // sent back because a folder it needs was busy
};

struct Running {
  WorkerRun run;
  pid_t pid;
  Clock::time_point started;
  size_t order = 0;
};

// The last line a child printed (progress bars redraw with '\r', so both end a line), for status and errors.
std::string last_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > 4096 ? size - 4096 : 0;
  in.seekg(start);
  std::string tail(static_cast<size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  size_t end = tail.find_last_not_of("\r\n ");
  if (end == std::string::npos) return "";
  const size_t begin = tail.find_last_of("\r\n", end);
  std::string line = tail.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1) + 1);
  if (line.size() > 240) line = line.substr(0, 237) + "...";
  return line;
}

std::string elapsed(Clock::time_point since) {
  return format_duration(std::chrono::duration<double>(Clock::now() - since).count());
}

class Scheduler {
 public:
  Scheduler(std::vector<WorkerRun> runs, const WorkerOptions& options)
      : options_(options), program_(self_executable()), environment_(child_environment(options.threads_per_job)),
        total_(runs.size()) {
    for (auto& run : runs) pending_.push_back({std::move(run), Clock::now(), pending_.size(), false});
  }

  std::vector<WorkerFailure> run() {
    auto last_status = Clock::now();
    while (!pending_.empty() || !running_.empty()) {
      if (cancel_requested() && !cancelling_) cancel_children();
      if (!cancelling_) launch_ready();
      reap();
      if (std::chrono::duration<double>(Clock::now() - last_status).count() >= options_.status_every_s) {
        print_status();
        last_status = Clock::now();
      }
      if (pending_.empty() && running_.empty()) break;
      if (cancelling_ && running_.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (cancelling_) throw cancelled("comparison interrupted; " + std::to_string(done_) + " of " +
                                     std::to_string(total_) + " runs finished (run again to resume)");
    return failures_;
  }

 private:
  void launch_ready() {
    const auto now = Clock::now();
    for (size_t i = 0; i < pending_.size() && running_.size() < static_cast<size_t>(options_.jobs);) {
      if (pending_[i].not_before > now) {
        ++i;
        continue;
      }
      Running started{std::move(pending_[i].run), 0, now, pending_[i].order};
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
      started.pid = spawn_child(program_, {started.run.label, started.run.arguments, started.run.log_path}, environment_);
      track_child_process_group(started.pid);  // its own group: a second Ctrl-C kills it with us
      std::printf("[compare] started %s (log: %s)\n", started.run.label.c_str(), started.run.log_path.c_str());
      std::fflush(stdout);
      running_.push_back(std::move(started));
    }
  }

  void reap() {
    for (size_t i = 0; i < running_.size();) {
      int status = 0;
      const pid_t pid = waitpid(running_[i].pid, &status, WNOHANG);
      if (pid == 0) {
        ++i;
        continue;
      }
      Running finished = std::move(running_[i]);
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
      untrack_child_process_group(finished.pid);
      finish(finished, status);
    }
  }

  void finish(Running& finished, int status) {
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == 0) {
      ++done_;
      std::printf("[compare] %zu/%zu finished %s in %s: %s\n", done_, total_, finished.run.label.c_str(),
                  elapsed(finished.started).c_str(), last_line(finished.run.log_path).c_str());
    } else if (code == kBusyExit && !cancelling_) {
      std::printf("[compare] %s must wait: %s\n", finished.run.label.c_str(), last_line(finished.run.log_path).c_str());
      const auto delay = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.busy_retry_s));
      requeue({std::move(finished.run), Clock::now() + delay, finished.order, true});
    } else if (!cancelling_) {
      const std::string message = finished.run.label + " failed (exit status " + std::to_string(code) + "): " +
                                  last_line(finished.run.log_path) + "; its log: " + finished.run.log_path;
      std::printf("[compare] %s\n", message.c_str());
      failures_.push_back({finished.run, code, message});
    }
    std::fflush(stdout);
  }

  // A run that waited goes after the runs that never did (they may start at once), but among the waiting ones it keeps
  // its place in the given order: when the folder they wait for is ready, the run that was meant to start first does.
  void requeue(Pending waiting) {
    auto position = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& other) {
      return other.waited && other.order > waiting.order;
    });
    pending_.insert(position, std::move(waiting));
  }

  void cancel_children() {
    cancelling_ = true;
    for (const auto& child : running_) kill(child.pid, SIGINT);
    std::printf("[compare] interrupted: waiting for %zu runs to save their state\n", running_.size());
    std::fflush(stdout);
  }

  void print_status() {
    std::printf("[compare] %zu/%zu runs finished, %zu running, %zu waiting\n", done_, total_, running_.size(),
                pending_.size());
    for (const auto& child : running_)
      std::printf("[compare]   %s (%s): %s\n", child.run.label.c_str(), elapsed(child.started).c_str(),
                  last_line(child.run.log_path).c_str());
    std::fflush(stdout);
  }

  WorkerOptions options_;
  std::string program_;
  std::vector<std::string> environment_;
  std::deque<Pending> pending_;
  std::vector<Running> running_;
  size_t total_ = 0;
  size_t done_ = 0;
  bool cancelling_ = false;
  std::vector<WorkerFailure> failures_;
};

}  // namespace

std::vector<WorkerFailure> run_in_worker_processes(std::vector<WorkerRun> runs, const WorkerOptions& options) {
  if (options.jobs < 1) throw invalid_argument("jobs must be at least 1, not " + std::to_string(options.jobs));
  return Scheduler(std::move(runs), options).run();
}

}  // namespace dmx::cli
