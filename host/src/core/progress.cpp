#include "diffmix/progress.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>

namespace dmx {
namespace {

// "image" → "images", "batch" → "batches": enough English for the units that progress lines count.
std::string plural(const std::string& unit) {
  const auto ends_with = [&](const std::string& tail) {
    return unit.size() >= tail.size() && unit.compare(unit.size() - tail.size(), tail.size(), tail) == 0;
  };
  return unit + (ends_with("s") || ends_with("x") || ends_with("ch") || ends_with("sh") ? "es" : "s");
}

}  // namespace

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const auto total = static_cast<long long>(seconds + 0.5);
  const long long h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char buffer[32];
  if (h > 0) std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", h, m, s);
  else std::snprintf(buffer, sizeof(buffer), "%lld:%02lld", m, s);
  return buffer;
}

Progress::Progress(std::string task, uint64_t total, std::string unit, double interval_seconds)
    : task_(std::move(task)), unit_(std::move(unit)), total_(total), interval_(interval_seconds) {}

void Progress::advance(uint64_t n, const std::string& note) {
  if (!started_) start(done_);
  set(done_ + n, note);
}

void Progress::set(uint64_t done, const std::string& note) {
  // The first absolute count is where resumed work picks up: the rate counts only what this run does, so the ETA
  // is honest.
  if (!started_) start(done);
  done_ = done;
  maybe_report(note);
}

void Progress::start(uint64_t done) {
  started_ = true;
  start_ = last_report_ = Clock::now();
  start_count_ = done;
}

double Progress::rate() const {
  if (!started_) return 0.0;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  return elapsed > 0 ? static_cast<double>(done_ - start_count_) / elapsed : 0.0;
}

std::string Progress::line(const std::string& note) const {
  char buffer[256];
  const double r = rate();
  if (total_ > 0) {
    const double eta = r > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / r : -1;
    std::snprintf(buffer, sizeof(buffer), "%s %llu/%llu (%.1f%%) %.2f %s/s ETA %s", task_.c_str(),
                  static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_),
                  100.0 * static_cast<double>(done_) / static_cast<double>(total_), r, unit_.c_str(),
                  format_duration(eta).c_str());
  } else {
    std::snprintf(buffer, sizeof(buffer), "%s %llu %.2f %s/s", task_.c_str(), static_cast<unsigned long long>(done_),
                  r, unit_.c_str());
  }
  return note.empty() ? std::string(buffer) : std::string(buffer) + " " + note;
}

void Progress::maybe_report(const std::string& note) {
  const auto now = Clock::now();
  const bool complete = total_ > 0 && done_ >= total_;
  if (!complete && std::chrono::duration<double>(now - last_report_).count() < interval_) return;
  last_report_ = now;
  spdlog::info(line(note));
}

std::string Progress::summary(const std::string& note) const {
  const double elapsed = started_ ? std::chrono::duration<double>(Clock::now() - start_).count() : 0.0;
  char counts[160];
  std::snprintf(counts, sizeof counts, " (%.2f %s/s)", rate(), unit_.c_str());
  return task_ + " done: " + std::to_string(done_) + " " + (done_ == 1 ? unit_ : plural(unit_)) + " in " +
         format_duration(elapsed) + counts + (note.empty() ? "" : " " + note);
}

void Progress::finish(const std::string& note) { spdlog::info(summary(note)); }

}  // namespace dmx
