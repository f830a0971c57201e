// A process-wide "please stop" flag. Long work (training, synthesis, fine-tuning) checks it at safe points, saves
// its state and throws dmx::cancelled, so the next run resumes where this one stopped.
#pragma once

namespace dmx {

bool cancel_requested();
void request_cancel();
void clear_cancel();

// Routes SIGINT and SIGTERM to request_cancel(); a second SIGINT ends the process at once.
void install_cancel_signal_handlers();

// Throws dmx::cancelled("<what> interrupted") if a stop was requested.
void throw_if_cancelled(const char* what);

}  // namespace dmx
