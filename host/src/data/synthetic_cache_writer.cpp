// SyntheticCacheWriter: image first (atomic), manifest line second (append + fsync). A sample counts as written once
// its line is complete, so a run killed at any moment resumes with no sample lost or repeated.
#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "manifest_format.hpp"

namespace dmx::data {
namespace {

namespace fs = std::filesystem;

std::string image_name(int64_t index, const std::string& extension) {
  char name[32];
  std::snprintf(name, sizeof(name), "images/%06lld", static_cast<long long>(index));
  return name + extension;
}

}  // namespace

void write_manifest(const std::string& path, const std::vector<SyntheticRecord>& records) {
  std::string content;
  for (const SyntheticRecord& record : records) content += format_manifest_line(record) + "\n";
  io::write_file_atomic(path, content.data(), content.size());
}

SyntheticCacheWriter::SyntheticCacheWriter(const std::string& folder, const std::string& extension)
    : folder_(folder), extension_(extension) {
  if (extension_ != ".png" && extension_ != ".jpg")
    throw invalid_argument(folder + ": synthetic images must be .png or .jpg, not '" + extension_ + "'");
  std::error_code error;
  fs::create_directories(fs::path(folder_) / "images", error);
  if (error) throw io_error("cannot create " + folder_ + "/images: " + error.message());

  const std::string manifest_path = folder_ + "/" + kManifestFileName;
  const ManifestText manifest = split_manifest(io::read_text_if_exists(manifest_path));
  if (manifest.truncated_tail) {
    // Cut the unfinished line off, so that the next append starts a fresh line.
    spdlog::warn("{}: dropping an incomplete last line left by an interrupted run", manifest_path);
    if (::truncate(manifest_path.c_str(), static_cast<off_t>(manifest.complete_bytes)) != 0)
      throw io_error_from_errno("cannot truncate " + manifest_path);
  }
  for (size_t n = 0; n < manifest.lines.size(); ++n) {
    if (manifest.lines[n].empty()) continue;
    records_.push_back(parse_manifest_line(manifest.lines[n], manifest_path + ":" + std::to_string(n + 1)));
  }
  manifest_ = std::fopen(manifest_path.c_str(), "ab");
  if (!manifest_) throw io_error_from_errno("cannot open " + manifest_path + " for appending");
  if (!records_.empty()) spdlog::info("{}: resuming after {} samples", folder_, records_.size());
}

SyntheticCacheWriter::~SyntheticCacheWriter() {
  if (manifest_) std::fclose(manifest_);
}

const SyntheticRecord& SyntheticCacheWriter::add(const at::Tensor& image, SyntheticRecord record) {
  if (broken_)
    throw io_error(folder_ + "/" + kManifestFileName + ": an earlier append failed; reopen the cache to resume");
  // An image file left by a killed run under this name was never listed: it is simply overwritten.
  record.path = image_name(size(), extension_);
  check_record(record, record.soft_label.empty() ? std::max(record.source_class, record.target_class) + 1
                                                 : static_cast<int64_t>(record.soft_label.size()),
               folder_ + ": new sample " + std::to_string(size()));
  io::write_image(folder_ + "/" + record.path, image);

  const std::string line = format_manifest_line(record) + "\n";
  const std::string manifest_path = folder_ + "/" + kManifestFileName;
  if (std::fwrite(line.data(), 1, line.size(), manifest_) != line.size() || std::fflush(manifest_) != 0 ||
      ::fsync(::fileno(manifest_)) != 0) {
    broken_ = true;
    throw io_error_from_errno("cannot append to " + manifest_path);
  }
  records_.push_back(std::move(record));
  return records_.back();
}

}  // namespace dmx::data
