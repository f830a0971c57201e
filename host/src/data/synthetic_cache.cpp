// Reading synthetic caches: manifest.jsonl (diffmix's own) and meta.csv (the original authors').
#include "diffmix/data/synthetic_cache.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "file_list_dataset.hpp"
#include "diffmix/io/line_log.hpp"
#include "csv_line.hpp"
#include "manifest_format.hpp"

namespace dmx::data {

at::Tensor diffmix_soft_label(int64_t source_class, int64_t target_class, double strength, int64_t num_classes,
                              double gamma) {
  if (source_class < 0 || source_class >= num_classes || target_class < 0 || target_class >= num_classes)
    throw invalid_argument("soft label: classes " + std::to_string(source_class) + " → " +
                           std::to_string(target_class) + " outside [0, " + std::to_string(num_classes) + ")");
  if (!(strength >= 0.0 && strength <= 1.0))
    throw invalid_argument("soft label: strength " + std::to_string(strength) + " outside [0, 1]");
  at::Tensor label = at::zeros({num_classes}, at::kFloat);
  auto* y = label.data_ptr<float>();
  const double target_weight = source_class == target_class ? 1.0 : std::pow(strength, gamma);
  y[source_class] += static_cast<float>(1.0 - target_weight);
  y[target_class] += static_cast<float>(target_weight);
  return label;
}

SyntheticCache::SyntheticCache(std::string folder, int64_t num_classes, std::vector<SyntheticRecord> records,
                               double gamma)
    : folder_(std::move(folder)), num_classes_(num_classes), records_(std::move(records)), gamma_(gamma) {
  if (num_classes_ <= 0) throw invalid_argument(folder_ + ": a synthetic cache needs num_classes > 0");
  by_target_.resize(static_cast<size_t>(num_classes_));
  for (size_t i = 0; i < records_.size(); ++i) {
    const SyntheticRecord& r = records_[i];
    check_record(r, num_classes_, folder_ + ": sample " + std::to_string(i));
    by_target_[static_cast<size_t>(r.target_class)].push_back(static_cast<int64_t>(i));
  }
}

const SyntheticRecord& SyntheticCache::record(int64_t index) const {
  if (index < 0 || index >= size())
    throw invalid_argument(folder_ + ": synthetic sample " + std::to_string(index) + " outside [0, " +
                           std::to_string(size()) + ")");
  return records_[static_cast<size_t>(index)];
}

at::Tensor SyntheticCache::soft_label(int64_t index) const {
  const SyntheticRecord& r = record(index);
  if (!r.soft_label.empty()) return at::tensor(r.soft_label, at::kFloat);
  return diffmix_soft_label(r.source_class, r.target_class, r.strength, num_classes_, gamma_);
}

int64_t SyntheticCache::count_with_target(int64_t c, int64_t n) const {
  const auto& indices = by_target_.at(static_cast<size_t>(c));
  return std::lower_bound(indices.begin(), indices.end(), n) - indices.begin();
}

int64_t SyntheticCache::with_target(int64_t c, int64_t j) const {
  return by_target_.at(static_cast<size_t>(c)).at(static_cast<size_t>(j));
}

std::string SyntheticCache::image_path(int64_t index) const { return folder_ + "/" + record(index).path; }

at::Tensor SyntheticCache::load_image(int64_t index, const ImageRequest& request) const {
  io::DecodeOptions options;
  options.channels = request.channels;
  options.min_size = request.min_size;
  return io::read_image(image_path(index), options);
}

std::shared_ptr<SyntheticCache> SyntheticCache::open(const std::string& folder, int64_t num_classes,
                                                     const SyntheticCacheOptions& options) {
  if (options.manifest.empty() || options.manifest.find('/') != std::string::npos)
    throw invalid_argument(folder + ": manifest '" + options.manifest + "' must be a file name in the cache folder");
  const std::string path = folder + "/" + options.manifest;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw not_found(path + ": no such file (synthetic cache manifest)");
  std::stringstream content;
  content << in.rdbuf();
  const io::CompleteLines manifest = io::split_complete_lines(content.str());
  if (manifest.truncated_tail)
    spdlog::warn("{}: last line is incomplete (an interrupted writer); ignoring it", path);

  BadEntryPolicy policy(options.skip_bad_entries);
  std::vector<SyntheticRecord> records;
  for (size_t n = 0; n < manifest.lines.size(); ++n) {
    const std::string where = path + ":" + std::to_string(n + 1);
    if (manifest.lines[n].empty()) continue;
    try {
      SyntheticRecord record = parse_manifest_line(manifest.lines[n], where);
      check_record(record, num_classes, where);
      records.push_back(std::move(record));
    } catch (const Error& error) {
      policy.report(error);  // the message already starts with `where`
    }
  }
  return std::make_shared<SyntheticCache>(folder, num_classes, std::move(records), options.gamma);
}

namespace {

std::string underscores_to_spaces(std::string name) {
  for (char& c : name)
    if (c == '_') c = ' ';
  return name;
}

}  // namespace

std::shared_ptr<SyntheticCache> SyntheticCache::open_meta_csv(const std::string& folder,
                                                              const std::vector<std::string>& class_names,
                                                              const SyntheticCacheOptions& options) {
  const std::string path = folder + "/meta.csv";
  const std::vector<std::string> lines = read_lines(path);
  if (lines.empty()) throw format_error(path + ": empty (expected a header line)");

  // Columns by name, so that pandas' unnamed index column (",First Directory,...") does not matter.
  const std::vector<std::string> header = split_csv_line(lines[0]);
  auto column = [&](const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    throw format_error(path + ":1: missing column '" + name +
                       "' (expected First Directory, Second Directory, Number, Strength, Path)");
  };
  const size_t source_col = column("First Directory"), target_col = column("Second Directory");
  const size_t number_col = column("Number"), strength_col = column("Strength"), path_col = column("Path");

  std::map<std::string, int64_t> class_index;
  for (size_t c = 0; c < class_names.size(); ++c)
    class_index[underscores_to_spaces(class_names[c])] = static_cast<int64_t>(c);

  BadEntryPolicy policy(options.skip_bad_entries);
  std::vector<SyntheticRecord> records;
  for (size_t n = 1; n < lines.size(); ++n) {
    const std::string where = path + ":" + std::to_string(n + 1);
    if (lines[n].empty()) continue;
    const std::vector<std::string> fields = split_csv_line(lines[n]);
    if (fields.size() != header.size()) {
      policy.report(where, std::to_string(fields.size()) + " fields, expected " + std::to_string(header.size()));
      continue;
    }
    const auto source = class_index.find(underscores_to_spaces(fields[source_col]));
    const auto target = class_index.find(underscores_to_spaces(fields[target_col]));
    if (source == class_index.end() || target == class_index.end()) {
      const std::string& unknown = source == class_index.end() ? fields[source_col] : fields[target_col];
      policy.report(where, "class '" + unknown + "' is not a class of the dataset");
      continue;
    }
    SyntheticRecord record;
    record.source_class = source->second;
    record.target_class = target->second;
    record.path = "data/" + fields[path_col];
    try {
      size_t used_strength = 0, used_number = 0;
      record.strength = std::stod(fields[strength_col], &used_strength);
      record.seed = std::stoull(fields[number_col], &used_number);
      if (used_strength != fields[strength_col].size() || used_number != fields[number_col].size())
        throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      policy.report(where, "Strength '" + fields[strength_col] + "' or Number '" + fields[number_col] +
                               "' is not a number");
      continue;
    }
    try {
      check_record(record, static_cast<int64_t>(class_names.size()), where);
    } catch (const Error& error) {
      policy.report(error);
      continue;
    }
    records.push_back(std::move(record));
  }
  return std::make_shared<SyntheticCache>(folder, static_cast<int64_t>(class_names.size()), std::move(records),
                                          options.gamma);
}

std::shared_ptr<SyntheticCache> SyntheticCache::open_any(const std::string& folder,
                                                         const std::vector<std::string>& class_names,
                                                         const SyntheticCacheOptions& options) {
  std::error_code error;
  if (options.manifest != kManifestFileName ||
      std::filesystem::exists(folder + "/" + kManifestFileName, error))
    return open(folder, static_cast<int64_t>(class_names.size()), options);
  if (std::filesystem::exists(folder + "/meta.csv", error)) return open_meta_csv(folder, class_names, options);
  throw not_found(folder + ": no " + kManifestFileName + " or meta.csv (not a synthetic cache)");
}

}  // namespace dmx::data
