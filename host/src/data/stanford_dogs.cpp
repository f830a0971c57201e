// Stanford Dogs as distributed:
//   Images/n02085620-Chihuahua/n02085620_10074.jpg ...     one folder per breed, in class order (sorted WordNet ids)
//   train_list.mat, test_list.mat (also read from lists/)  file_list: the image paths under Images/;
//                                                          labels: their classes, 1-based
// Class names are the folder names after the WordNet id, '_' as a space ("n02116738-African_hunting_dog" →
// "African hunting dog"), as the Diff-Mix authors write them.
#include <algorithm>
#include <filesystem>
#include <memory>

#include "../io/mat_file.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "file_list_dataset.hpp"

namespace dmx::data {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> breed_folders(const std::string& images) {
  std::error_code error;
  if (!fs::is_directory(images, error)) throw not_found(images + ": no such folder (the breed folders)");
  std::vector<std::string> folders;
  for (const auto& entry : fs::directory_iterator(images))
    if (entry.is_directory() && entry.path().filename().string()[0] != '.')
      folders.push_back(entry.path().filename().string());
  std::sort(folders.begin(), folders.end());
  if (folders.empty()) throw format_error(images + ": no breed folders");
  return folders;
}

std::string breed_name(const std::string& folder) {
  const size_t dash = folder.find('-');
  std::string name = dash == std::string::npos ? folder : folder.substr(dash + 1);
  std::replace(name.begin(), name.end(), '_', ' ');
  return name;
}

}  // namespace

DatasetPtr open_stanford_dogs(const std::string& root, const std::string& split, bool skip_bad_entries,
                              bool verify_images) {
  if (split != "train" && split != "test")
    throw invalid_argument("stanford-dogs: unknown split '" + split + "' (expected train or test)");
  const std::string images = root + "/Images";
  const auto folders = breed_folders(images);
  std::vector<std::string> class_names;
  std::transform(folders.begin(), folders.end(), std::back_inserter(class_names), breed_name);

  const std::string list_name = split + "_list.mat";
  const auto list = io::MatFile::open(first_existing({root + "/" + list_name, root + "/lists/" + list_name}));
  const auto files = list.strings("file_list");
  const auto labels = list.integers("labels");
  if (files.size() != labels.size())
    throw format_error(list.path() + ": " + std::to_string(files.size()) + " files in 'file_list' but " +
                       std::to_string(labels.size()) + " entries in 'labels'");

  BadEntryPolicy policy(skip_bad_entries);
  FileListBuilder entries(policy, verify_images);
  const auto class_count = static_cast<int64_t>(folders.size());
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string where = list.path() + ": entry " + std::to_string(i + 1) + " (" + files[i] + ")";
    if (labels[i] < 1 || labels[i] > class_count) {
      policy.report(where, "label " + std::to_string(labels[i]) + " is not in [1, " + std::to_string(class_count) +
                               "] (the breed folders of " + images + ")");
      continue;
    }
    const std::string& folder = folders[static_cast<size_t>(labels[i] - 1)];
    if (files[i].rfind(folder + "/", 0) != 0) {
      policy.report(where, "label " + std::to_string(labels[i]) + " is breed folder " + folder +
                               ", but the file is not in it");
      continue;
    }
    entries.add(where, images + "/" + files[i], labels[i] - 1);
  }
  return entries.build("stanford-dogs " + split + " (" + root + ")", std::move(class_names), "dog", list.path(),
                       split);
}

}  // namespace dmx::data
