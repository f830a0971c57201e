#include "file_list_dataset.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"

namespace dmx::data {

void BadEntryPolicy::report(const std::string& where, const std::string& problem) {
  if (!skip_) throw format_error(where + ": " + problem);
  ++skipped_;
  spdlog::warn("{}: {} (skipped)", where, problem);
}

void BadEntryPolicy::report(const Error& error) {
  if (!skip_) throw error;
  ++skipped_;
  spdlog::warn("{} (skipped)", error.what());
}

FileListDataset::FileListDataset(std::string name, std::vector<std::string> class_names, std::string metaclass,
                                 std::vector<std::string> paths, std::vector<int64_t> labels)
    : name_(std::move(name)),
      class_names_(std::move(class_names)),
      metaclass_(std::move(metaclass)),
      paths_(std::move(paths)),
      labels_(std::move(labels)) {
  if (paths_.size() != labels_.size())
    throw internal_error(name_ + ": " + std::to_string(paths_.size()) + " paths but " +
                         std::to_string(labels_.size()) + " labels");
}

int64_t FileListDataset::label(int64_t index) const {
  check_index(index);
  return labels_[static_cast<size_t>(index)];
}

at::Tensor FileListDataset::load_image(int64_t index, const ImageRequest& request) const {
  check_index(index);
  io::DecodeOptions options;
  options.channels = request.channels;
  options.min_size = request.min_size;
  return io::read_image(paths_[static_cast<size_t>(index)], options);
}

std::string FileListDataset::describe(int64_t index) const {
  check_index(index);
  return paths_[static_cast<size_t>(index)];
}

bool image_decodes(const std::string& path, BadEntryPolicy& policy) {
  try {
    io::DecodeOptions options;
    options.min_size = 1;  // JPEG: decode at 1/8 scale, enough to meet every byte of the file
    io::read_image(path, options);
    return true;
  } catch (const Error& error) {
    policy.report(path, std::string("unreadable image: ") + error.what());
    return false;
  }
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw not_found(path + ": no such file (or not readable)");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  if (in.bad()) throw io_error("cannot read " + path);
  return lines;
}

void FileListBuilder::add(const std::string& where, const std::string& path, int64_t label) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    policy_.report(where, "image file " + path + " does not exist");
    return;
  }
  if (verify_images_ && !image_decodes(path, policy_)) return;
  paths_.push_back(path);
  labels_.push_back(label);
}

DatasetPtr FileListBuilder::build(const std::string& name, std::vector<std::string> class_names,
                                  const std::string& metaclass, const std::string& source, const std::string& split) {
  if (paths_.empty()) throw format_error(source + ": no images in split '" + split + "'");
  return std::make_shared<FileListDataset>(name, std::move(class_names), metaclass, std::move(paths_),
                                           std::move(labels_));
}

std::string first_existing(const std::vector<std::string>& candidates) {
  std::error_code error;
  for (const auto& candidate : candidates)
    if (std::filesystem::exists(candidate, error)) return candidate;
  return candidates.front();
}

std::string cub_class_name(const std::string& folder_name) {
  const size_t dot = folder_name.find('.');
  std::string name = dot == std::string::npos ? folder_name : folder_name.substr(dot + 1);
  for (char& c : name)
    if (c == '_') c = ' ';
  return name;
}

}  // namespace dmx::data
