// Runs of a comparison in child processes, several at a time (`[compare] jobs` or `--jobs`).
//
// Each run is `diffmix compare CONFIG --run-setup NAME --run-seed N` (the same binary), with its output in its own
// run.log. A child that exits with 75 (EX_TEMPFAIL: another run holds a folder it needs, such as a shared
// fine-tuned model still being trained) goes back to the queue and is retried after the others have had their turn.
// Processes rather than threads: the trainer seeds LibTorch's global generator, and OpenMP sizes per process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dmx::cli {

struct WorkerRun {
  std::string label;       // "diff_gen seed 0", for messages
  std::vector<std::string> arguments;  // after the program name
  std::string log_path;    // the child's stdout and stderr
};

struct WorkerOptions {
  int jobs = 2;
  int threads_per_job = 1;      // OMP_NUM_THREADS of each child, unless the caller's environment sets it
  double status_every_s = 60;   // a line naming the running runs and their latest progress
  double busy_retry_s = 10;     // a run sent back as busy waits at least this long
};

// A run that failed: what it was, and a message naming its exit status, the last line it printed and its log.
struct WorkerFailure {
  WorkerRun run;
  int exit_status = 0;
  std::string message;
};

// Runs every run and returns the ones that failed (a failure does not stop the others: a comparison shows a failed
// set-up beside the rest). Ctrl-C (the cancel flag) is passed on to the children, which save their state; then
// dmx::cancelled is thrown.
std::vector<WorkerFailure> run_in_worker_processes(std::vector<WorkerRun> runs, const WorkerOptions& options);

}  // namespace dmx::cli
