// An exclusive advisory lock on a file (flock), held for the lifetime of the object: how two processes that share a
// folder — two runs of one comparison fine-tuning into the same model folder, or streaming into the same cache —
// keep out of each other's way. The operating system releases it when the process dies, so a kill leaves no stale
// lock behind; the lock file itself stays (empty) and is reused.
//
//   auto lock = dmx::io::FileLock::try_acquire(folder + "/.lock");
//   if (!lock) throw dmx::busy(folder + ": another process is writing it");
#pragma once

#include <optional>
#include <string>

namespace dmx::io {

class FileLock {
 public:
  // The lock, or std::nullopt when another open file holds it (in this process or another). Creates the file and
  // its folder if needed; an I/O error naming the file when that fails.
  static std::optional<FileLock> try_acquire(const std::string& path);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  const std::string& path() const { return path_; }

 private:
  FileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

}  // namespace dmx::io
