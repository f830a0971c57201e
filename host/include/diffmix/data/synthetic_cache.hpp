// The on-disk cache of synthetic samples that the diffusion sample sources write and the Mixer reads.
//
// Layout: a folder with the images and `manifest.jsonl`, one JSON object per line and per sample:
//   {"path":"images/000012.png","source_class":3,"target_class":7,"strength":0.7,"seed":1234}
// optionally with "soft_label":[...] (K floats) when the label is not the standard Diff-Mix one. `path` is relative
// to the folder. The writer stores the image first (atomically), then appends its line and fsyncs, so a killed run
// leaves at worst one image without a line (overwritten on resume) or one truncated line (dropped on resume).
//
// The original authors' caches (`meta.csv` with columns First Directory, Second Directory, Number, Strength, Path,
// images under `data/`) are read too: First Directory is the source class name, Second Directory the target.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diffmix/data/dataset.hpp"
#include "diffmix/data/synthetic_pool.hpp"
#include "diffmix/io/file_lock.hpp"
#include "diffmix/io/line_log.hpp"

namespace dmx::data {

inline constexpr double kDefaultSoftLabelGamma = 0.5;
inline constexpr const char* kManifestFileName = "manifest.jsonl";
// The subset of a cache the CLIP filter kept, in the same format; read it with SyntheticCacheOptions::manifest.
inline constexpr const char* kFilteredManifestFileName = "manifest.filtered.jsonl";
// Held by the one SyntheticCacheWriter of a folder (an empty file; the lock is released when the writer goes).
inline constexpr const char* kWriterLockFileName = ".lock";
// What made a cache's samples (the sample source's settings as its writer was given them), so that a source with
// other settings never extends or reuses them.
inline constexpr const char* kMadeByFileName = "made_by.toml";

// y = (1 − s^γ)·onehot(source) + s^γ·onehot(target); source == target gives onehot(source). Returns K floats.
at::Tensor diffmix_soft_label(int64_t source_class, int64_t target_class, double strength, int64_t num_classes,
                              double gamma = kDefaultSoftLabelGamma);

struct SyntheticRecord {
  std::string path;  // relative to the cache folder
  int64_t source_class = 0;
  int64_t target_class = 0;
  double strength = 1.0;
  uint64_t seed = 0;
  std::vector<float> soft_label;  // empty: computed with diffmix_soft_label
};

struct SyntheticCacheOptions {
  double gamma = kDefaultSoftLabelGamma;
  bool skip_bad_entries = false;  // log and leave out malformed manifest lines instead of failing
  std::string manifest = kManifestFileName;  // which manifest of the folder open() reads (a file name, no '/')
};

// Read-only view of a cache folder; load_image and soft_label are thread-safe. As a SyntheticPool it is fixed: every
// epoch may draw from all of it.
class SyntheticCache : public SyntheticPool {
 public:
  // Reads `<folder>/<options.manifest>` (manifest.jsonl by default); a truncated last line (a killed writer) is
  // dropped with a warning, any other malformed line is an error naming the file and line. Classes must lie in
  // [0, num_classes).
  static std::shared_ptr<SyntheticCache> open(const std::string& folder, int64_t num_classes,
                                              const SyntheticCacheOptions& options = {});
  // Reads `<folder>/meta.csv`; class names are matched after replacing '_' by ' ' on both sides.
  static std::shared_ptr<SyntheticCache> open_meta_csv(const std::string& folder,
                                                       const std::vector<std::string>& class_names,
                                                       const SyntheticCacheOptions& options = {});
  // manifest.jsonl if present, else meta.csv; neither is a not-found error naming the folder. Another
  // options.manifest (the filtered one) is read as open() does, never replaced by meta.csv.
  static std::shared_ptr<SyntheticCache> open_any(const std::string& folder,
                                                  const std::vector<std::string>& class_names,
                                                  const SyntheticCacheOptions& options = {});

  int64_t size() const { return static_cast<int64_t>(records_.size()); }
  int64_t num_classes() const override { return num_classes_; }
  const std::string& folder() const override { return folder_; }
  const SyntheticRecord& record(int64_t index) const;
  const std::vector<SyntheticRecord>& records() const { return records_; }
  // K floats.
  at::Tensor soft_label(int64_t index) const override;
  at::Tensor load_image(int64_t index, const ImageRequest& request = {}) const override;
  std::string image_path(int64_t index) const;
  // Sample indices per target class (what SYNAuG balancing draws from).
  const std::vector<std::vector<int64_t>>& indices_by_target() const { return by_target_; }

  // SyntheticPool.
  int64_t usable_size(uint64_t /*epoch*/) const override { return size(); }
  int64_t target_class(int64_t index) const override { return record(index).target_class; }
  int64_t count_with_target(int64_t c, int64_t n) const override;
  int64_t with_target(int64_t c, int64_t j) const override;

  SyntheticCache(std::string folder, int64_t num_classes, std::vector<SyntheticRecord> records, double gamma);

 private:
  std::string folder_;
  int64_t num_classes_;
  std::vector<SyntheticRecord> records_;
  double gamma_;
  std::vector<std::vector<int64_t>> by_target_;
};

// Writes `records` as a whole manifest file at `path` (a temporary file, fsync, rename): a reader sees the old file
// or the new one, never a part. Used for derived manifests such as kFilteredManifestFileName.
void write_manifest(const std::string& path, const std::vector<SyntheticRecord>& records);

// Appends samples to a cache folder, resumably. Not thread-safe: one writer per folder.
//
//   dmx::data::SyntheticCacheWriter writer("cache/diffmix-0.7");
//   for (int64_t job = writer.size(); job < total; ++job) writer.add(make_image(job), make_record(job));
class SyntheticCacheWriter {
 public:
  // Creates the folder if needed and reads the existing manifest: complete lines count as done; a truncated last
  // line is cut off the file. `extension` chooses the image format (".png" or ".jpg").
  //
  // `made_by`, when not empty, is what makes the samples (e.g. the sample source's name, seed and TOML table). The
  // first writer records it in kMadeByFileName; a later writer with another text is an InvalidArgument error that
  // names the folder and the first line that differs, as samples made with other settings must not be mixed with
  // the new ones. The sample count is not part of it: a cache may grow.
  //
  // `first_index` numbers the samples of a part of a run (a shard, see cache_shards.hpp): its sample n is the run's
  // sample first_index + n and is stored under that number, so merged parts name their images as one run does.
  explicit SyntheticCacheWriter(const std::string& folder, const std::string& extension = ".png",
                                const std::string& made_by = "", int64_t first_index = 0);
  ~SyntheticCacheWriter();
  SyntheticCacheWriter(const SyntheticCacheWriter&) = delete;
  SyntheticCacheWriter& operator=(const SyntheticCacheWriter&) = delete;

  // Samples already in the manifest: a generator resumes at job size().
  int64_t size() const { return static_cast<int64_t>(records_.size()); }
  const std::vector<SyntheticRecord>& records() const { return records_; }
  const std::string& folder() const { return folder_; }

  // Writes `image` (uint8 H×W×C) as images/<6-digit index><extension> (record.path, if set, is ignored and
  // replaced), then appends and fsyncs the manifest line. Returns the stored record.
  const SyntheticRecord& add(const at::Tensor& image, SyntheticRecord record);
  // As add, with the image an encoded file that is copied as it is (keeping its extension): merging caches never
  // decodes or re-encodes an image.
  const SyntheticRecord& add_file(const std::string& image_file, SyntheticRecord record);

 private:
  void check_new_record(const SyntheticRecord& record) const;
  const SyntheticRecord& append(SyntheticRecord record);

  std::string folder_;
  std::string extension_;
  int64_t first_index_ = 0;
  std::optional<io::FileLock> lock_;  // one writer per folder, across processes too
  std::vector<SyntheticRecord> records_;
  std::unique_ptr<io::LineLog> manifest_;
};

}  // namespace dmx::data
