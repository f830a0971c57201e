// A process-wide "please stop" flag. Long work (training, synthesis, fine-tuning) checks it at safe points, saves
// its state and throws dmx::cancelled, so the next run resumes where this one stopped.
#pragma once

namespace dmx {

bool cancel_requested();
void request_cancel();
void clear_cancel();

// Routes SIGINT and SIGTERM to request_cancel(); a second SIGINT ends the process at once.
void install_cancel_signal_handlers();

// Child process groups that must not outlive an abort. The first Ctrl-C is the parent's to pass on (its children
// stop at a safe point); the second ends this process at once and kills every tracked group with it (SIGKILL: each
// resumes from its last checkpoint). At most 256 are tracked at a time; more is an invalid-argument error.
void track_child_process_group(int process_group);
void untrack_child_process_group(int process_group);

// Throws dmx::cancelled("<what> interrupted") if a stop was requested.
void throw_if_cancelled(const char* what);

}  // namespace dmx
