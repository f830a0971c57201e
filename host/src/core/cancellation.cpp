#include "diffmix/cancellation.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <unistd.h>

#include "diffmix/error.hpp"

namespace dmx {
namespace {

std::atomic<bool> g_cancel{false};

extern "C" void on_stop_signal(int signal_number) {
  // A second Ctrl-C means "now": the user no longer wants the checkpoint.
  if (g_cancel.exchange(true) && signal_number == SIGINT) _exit(130);
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

void throw_if_cancelled(const char* what) {
  if (cancel_requested()) throw cancelled(std::string(what) + " interrupted; run the same command again to resume");
}

}  // namespace dmx
