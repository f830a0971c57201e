// Progress of long work: count, rate and ETA, logged at most every `interval` seconds and once at the end.
//
//   dmx::Progress progress("train epoch 3", total_batches, "batch");
//   for (...) { ...; progress.advance(); }
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dmx {

class Progress {
 public:
  Progress(std::string task, uint64_t total, std::string unit = "it", double interval_seconds = 2.0);

  // Adds `n` units done; `note` (e.g. "loss 0.412") is shown after the counts.
  void advance(uint64_t n = 1, const std::string& note = "");
  // Sets the absolute count (for work resumed part-way or reported by a plugin). The first call marks where this
  // run started.
  void set(uint64_t done, const std::string& note = "");
  // Logs summary(note).
  void finish(const std::string& note = "");

  uint64_t done() const { return done_; }
  double rate() const;  // units per second since start
  // The line that would be logged now: "task 120/1000 (12.0%) 35.2 batch/s ETA 0:25 loss 0.41".
  std::string line(const std::string& note = "") const;
  // The closing line: "task done: 1000 batches in 0:28 (35.71 batch/s) loss 0.41".
  std::string summary(const std::string& note = "") const;

 private:
  using Clock = std::chrono::steady_clock;
  void start(uint64_t done);
  void maybe_report(const std::string& note);

  std::string task_;
  std::string unit_;
  uint64_t total_;
  uint64_t start_count_ = 0;  // units already done when this object started (resumed work)
  uint64_t done_ = 0;
  bool started_ = false;
  double interval_;
  Clock::time_point start_;
  Clock::time_point last_report_;
};

// "1:02:03" / "2:05" for an ETA or elapsed time.
std::string format_duration(double seconds);

}  // namespace dmx
