#include "diffmix/cancellation.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "diffmix/error.hpp"

namespace dmx {
namespace {

std::atomic<bool> g_cancel{false};

// Slots of tracked child process groups, 0 when free. Lock-free atomics, so that the signal handler may read them.
constexpr int kMaxTrackedGroups = 256;
std::atomic<pid_t> g_child_groups[kMaxTrackedGroups];

// Only async-signal-safe calls: kill() and _exit().
void abort_now() {
  for (auto& slot : g_child_groups) {
    const pid_t group = slot.load();
    if (group > 0) kill(-group, SIGKILL);
  }
  _exit(130);
}

extern "C" void on_stop_signal(int signal_number) {
  // A second Ctrl-C means "now": the user no longer wants the checkpoint, and no child may run on without us.
  if (g_cancel.exchange(true) && signal_number == SIGINT) abort_now();
  static const char message[] = "\ndiffmix: stopping at the next safe point (Ctrl-C again to abort now)\n";
  const ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
  (void)ignored;
}

}  // namespace

bool cancel_requested() { return g_cancel.load(std::memory_order_relaxed); }
void request_cancel() { g_cancel.store(true); }
void clear_cancel() { g_cancel.store(false); }

void install_cancel_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void track_child_process_group(int process_group) {
  for (auto& slot : g_child_groups) {
    pid_t free_slot = 0;
    if (slot.compare_exchange_strong(free_slot, static_cast<pid_t>(process_group))) return;
  }
  throw invalid_argument("cannot track child process group " + std::to_string(process_group) + ": " +
                         std::to_string(kMaxTrackedGroups) + " are tracked already");
}

void untrack_child_process_group(int process_group) {
  for (auto& slot : g_child_groups) {
    pid_t tracked = static_cast<pid_t>(process_group);
    if (slot.compare_exchange_strong(tracked, 0)) return;
  }
}

void throw_if_cancelled(const char* what) {
  if (cancel_requested()) throw cancelled(std::string(what) + " interrupted; run the same command again to resume");
}

}  // namespace dmx
