// A disk that fills up in the middle of a write: every writer reports the file and the system's reason, and what was
// on disk before stays intact and readable. The full disk is simulated with a file-size limit (RLIMIT_FSIZE), which
// makes write() fail part-way the way ENOSPC does, without privileges or a special file system.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <functional>

#include "data_test_files.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/io/safetensors.hpp"

namespace {

namespace fs = std::filesystem;
using dmx::test::TempDir;

// While alive, no file of this process can grow past `bytes`; the signal that would kill the process is ignored so
// that write() returns EFBIG instead.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit limited = saved_;
    limited.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
    saved_handler_ = ::signal(SIGXFSZ, SIG_IGN);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, saved_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  sighandler_t saved_handler_ = SIG_DFL;
};

// Files in `folder` whose name contains ".tmp": what an atomic write must never leave behind.
int temp_files_in(const fs::path& folder) {
  int count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.path().filename().string().find(".tmp") != std::string::npos) ++count;
  }
  return count;
}

std::string io_error_of(const std::function<void()>& write) {
  try {
    write();
  } catch (const dmx::Error& error) {
    EXPECT_EQ(error.category(), dmx::ErrorCategory::Io) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "the write succeeded on a full disk";
  return "";
}

TEST(FullDisk, SafetensorsKeepsThePreviousFile) {
  TempDir dir;
  const std::string path = dir / "checkpoint.safetensors";
  dmx::io::save_safetensors(path, {{"w", at::arange(10, at::kFloat)}});
  {
    FileSizeLimit limit(4096);
    const auto message = io_error_of([&] { dmx::io::save_safetensors(path, {{"w", at::ones({4096}, at::kFloat)}}); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("too large"), std::string::npos) << message;  // strerror(EFBIG) reaches the user
  }
  EXPECT_TRUE(dmx::io::SafetensorsFile::open(path).tensor("w").equal(at::arange(10, at::kFloat)));
  EXPECT_EQ(temp_files_in(dir.str()), 0);
}

TEST(FullDisk, ImageKeepsThePreviousFile) {
  TempDir dir;
  const std::string path = dir / "grid.png";
  const auto small = dmx::test::test_picture(4, 4, 1);
  dmx::io::write_image(path, small);
  {
    FileSizeLimit limit(1024);
    const auto noise = at::randint(0, 256, {128, 128, 3}, at::kByte);  // incompressible: far above the limit
    const auto message = io_error_of([&] { dmx::io::write_image(path, noise); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
  }
  EXPECT_TRUE(dmx::io::read_image(path).equal(small));
  EXPECT_EQ(temp_files_in(dir.str()), 0);
}

// The manifest grows past the limit mid-synthesis: the run stops with an error, and a rerun on a freed disk resumes
// after the last complete line, with every listed image present, none listed twice and none lost.
TEST(FullDisk, SyntheticCacheResumesAfterTheFailedAppend) {
  TempDir dir;
  const std::string folder = dir / "cache";
  const auto record = [](int64_t job) {
    dmx::data::SyntheticRecord r;
    r.source_class = job % 3;
    r.target_class = (job + 1) % 3;
    r.strength = 0.5;
    r.seed = static_cast<uint64_t>(job);
    return r;
  };
  int64_t stored = 0;
  {
    dmx::data::SyntheticCacheWriter writer(folder);
    FileSizeLimit limit(2048);
    std::string message;
    for (int64_t job = 0; job < 200 && message.empty(); ++job) {
      try {
        writer.add(dmx::test::test_picture(6, 6, static_cast<int>(job)), record(job));
        ++stored;
      } catch (const dmx::Error& error) {
        message = error.what();
      }
    }
    EXPECT_NE(message.find("manifest.jsonl"), std::string::npos) << message;
    EXPECT_GT(stored, 5);
    // The writer refuses to go on after a failed append rather than writing after half a line.
    EXPECT_THROW(writer.add(dmx::test::test_picture(6, 6, 0), record(stored)), dmx::Error);
  }
  dmx::data::SyntheticCacheWriter resumed(folder);
  EXPECT_EQ(resumed.size(), stored);
  for (int64_t job = resumed.size(); job < stored + 5; ++job) {
    resumed.add(dmx::test::test_picture(6, 6, static_cast<int>(job)), record(job));
  }
  const auto cache = dmx::data::SyntheticCache::open(folder, 3);
  ASSERT_EQ(cache->size(), stored + 5);
  for (int64_t i = 0; i < cache->size(); ++i) {
    EXPECT_EQ(cache->record(i).seed, static_cast<uint64_t>(i));
    EXPECT_TRUE(cache->load_image(i).equal(dmx::test::test_picture(6, 6, static_cast<int>(i)))) << "sample " << i;
  }
}

}  // namespace
