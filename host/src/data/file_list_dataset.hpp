// A dataset that is a list of (image file, class): what ImageFolder and CUB both reduce to once their indexes are
// read. Also the policy shared by every reader for malformed entries: throw, or warn and leave the entry out.
#pragma once

#include <string>
#include <vector>

#include "diffmix/data/dataset.hpp"
#include "diffmix/error.hpp"

namespace dmx::data {

// Reports a malformed entry: a format error naming `where` ("file:line"), or, when skipping, a warning.
class BadEntryPolicy {
 public:
  explicit BadEntryPolicy(bool skip) : skip_(skip) {}
  // Throws unless skipping; returns normally (after logging) when the entry should be left out.
  void report(const std::string& where, const std::string& problem);
  // The same for an error that already names its file and line: rethrown, or logged when skipping.
  void report(const Error& error);
  int64_t skipped() const { return skipped_; }

 private:
  bool skip_;
  int64_t skipped_ = 0;
};

class FileListDataset : public Dataset {
 public:
  FileListDataset(std::string name, std::vector<std::string> class_names, std::string metaclass,
                  std::vector<std::string> paths, std::vector<int64_t> labels);

  int64_t size() const override { return static_cast<int64_t>(paths_.size()); }
  int64_t label(int64_t index) const override;
  at::Tensor load_image(int64_t index, const ImageRequest& request = {}) const override;
  const std::vector<std::string>& class_names() const override { return class_names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override;

 private:
  std::string name_;
  std::vector<std::string> class_names_;
  std::string metaclass_;
  std::vector<std::string> paths_;
  std::vector<int64_t> labels_;
};

// Collects a reader's (image file, class) entries. An entry whose image file is missing, or with `verify_images`
// does not decode, is reported through the policy (with `where`, e.g. "file:line") and left out.
class FileListBuilder {
 public:
  FileListBuilder(BadEntryPolicy& policy, bool verify_images) : policy_(policy), verify_images_(verify_images) {}
  void add(const std::string& where, const std::string& path, int64_t label);
  size_t size() const { return paths_.size(); }
  // The dataset of the entries added; none is a format error naming `source` and `split`.
  DatasetPtr build(const std::string& name, std::vector<std::string> class_names, const std::string& metaclass,
                   const std::string& source, const std::string& split);

 private:
  BadEntryPolicy& policy_;
  bool verify_images_;
  std::vector<std::string> paths_;
  std::vector<int64_t> labels_;
};

// The first of `candidates` that exists; else the first, so that the not-found error names where it was expected.
std::string first_existing(const std::vector<std::string>& candidates);

// "001.Black_footed_Albatross" → "Black footed Albatross" (CUB's class folders, which Waterbirds reuses).
std::string cub_class_name(const std::string& folder_name);

// Decodes `path` at reduced scale to find truncated or corrupt files up front; false (after reporting through
// `policy`) when it cannot be read.
bool image_decodes(const std::string& path, BadEntryPolicy& policy);

// The lines of a text file (line n of the file is element n − 1) without a trailing "\r". A missing file is a
// not-found error naming it.
std::vector<std::string> read_lines(const std::string& path);

}  // namespace dmx::data
