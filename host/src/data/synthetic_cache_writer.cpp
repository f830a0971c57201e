// SyntheticCacheWriter: image first (atomic), manifest line second (append + fsync). A sample counts as written once
// its line is complete, so a run killed at any moment resumes with no sample lost or repeated.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/text_difference.hpp"
#include "manifest_format.hpp"

namespace dmx::data {
namespace {

namespace fs = std::filesystem;

std::string image_name(int64_t index, const std::string& extension) {
  char name[32];
  std::snprintf(name, sizeof(name), "images/%06lld", static_cast<long long>(index));
  return name + extension;
}

// "line 3: `steps = 2500` there, `steps = 4000` here".
std::string describe(const LineDifference& difference) {
  const auto quoted = [](const std::optional<std::string>& line) { return line ? "`" + *line + "`" : "nothing"; };
  return "line " + std::to_string(difference.line) + ": " + quoted(difference.there) + " there, " +
         quoted(difference.here) + " here";
}

// Records `made_by` in a new cache, or checks it against the record of an existing one (the writer's lock is held).
// A cache written before records existed gets this writer's.
void claim_made_by(const std::string& folder, const std::string& made_by) {
  if (made_by.empty()) return;
  const std::string path = folder + "/" + kMadeByFileName;
  const std::string recorded = io::read_text_if_exists(path);
  if (recorded.empty()) {
    io::write_file_atomic(path, made_by.data(), made_by.size());
    return;
  }
  if (const auto difference = first_line_difference(recorded, made_by))
    throw invalid_argument(folder + ": its samples were made with other settings than this run's (" + path + ", " +
                           describe(*difference) + "); delete the folder to make them again, or " +
                           "write to another cache folder");
}

}  // namespace

void write_manifest(const std::string& path, const std::vector<SyntheticRecord>& records) {
  std::string content;
  for (const SyntheticRecord& record : records) content += format_manifest_line(record) + "\n";
  io::write_file_atomic(path, content.data(), content.size());
}

SyntheticCacheWriter::SyntheticCacheWriter(const std::string& folder, const std::string& extension,
                                           const std::string& made_by, int64_t first_index)
    : folder_(folder), extension_(extension), first_index_(first_index) {
  if (first_index_ < 0) throw invalid_argument(folder + ": a cache's first sample cannot be number " +
                                               std::to_string(first_index_));
  if (extension_ != ".png" && extension_ != ".jpg")
    throw invalid_argument(folder + ": synthetic images must be .png or .jpg, not '" + extension_ + "'");
  std::error_code error;
  fs::create_directories(fs::path(folder_) / "images", error);
  if (error) throw io_error("cannot create " + folder_ + "/images: " + error.message());
  lock_ = io::FileLock::try_acquire(folder_ + "/" + kWriterLockFileName);
  if (!lock_)
    throw busy(folder_ + ": another process is writing this synthetic cache (it holds " + kWriterLockFileName +
               "); run one writer per cache folder");
  // A run killed while it replaced made_by.toml or the manifest leaves that file's temporary copy beside it.
  io::remove_abandoned_temporaries(folder_);
  claim_made_by(folder_, made_by);

  manifest_ = std::make_unique<io::LineLog>(folder_ + "/" + kManifestFileName);
  const auto& lines = manifest_->lines();
  for (size_t n = 0; n < lines.size(); ++n) {
    if (lines[n].empty()) continue;
    records_.push_back(parse_manifest_line(lines[n], manifest_->path() + ":" + std::to_string(n + 1)));
  }
  if (!records_.empty()) spdlog::info("{}: resuming after {} samples", folder_, records_.size());
  // A run killed while it wrote an image leaves that image's temporary file behind; it is never listed, so it goes.
  io::remove_abandoned_temporaries(folder_ + "/images");
}

SyntheticCacheWriter::~SyntheticCacheWriter() = default;

const SyntheticRecord& SyntheticCacheWriter::add(const at::Tensor& image, SyntheticRecord record) {
  record.path = image_name(first_index_ + size(), extension_);
  check_new_record(record);
  io::write_image(folder_ + "/" + record.path, image);
  return append(std::move(record));
}

const SyntheticRecord& SyntheticCacheWriter::add_file(const std::string& image_file, SyntheticRecord record) {
  record.path = image_name(first_index_ + size(), fs::path(image_file).extension().string());
  check_new_record(record);
  const std::vector<uint8_t> bytes = io::read_file(image_file);
  io::write_file_atomic(folder_ + "/" + record.path, bytes.data(), bytes.size());
  return append(std::move(record));
}

void SyntheticCacheWriter::check_new_record(const SyntheticRecord& record) const {
  check_record(record, record.soft_label.empty() ? std::max(record.source_class, record.target_class) + 1
                                                 : static_cast<int64_t>(record.soft_label.size()),
               folder_ + ": new sample " + std::to_string(first_index_ + size()));
}

// The image is in place (an image file left by a killed run under its name was never listed, and was simply
// overwritten); the sample counts once its line is.
const SyntheticRecord& SyntheticCacheWriter::append(SyntheticRecord record) {
  manifest_->append(format_manifest_line(record) + "\n");
  records_.push_back(std::move(record));
  return records_.back();
}

}  // namespace dmx::data
