// ImageFolder: one folder per class, class names and indices from the sorted folder names (torchvision's layout).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "file_list_dataset.hpp"

namespace dmx::data {
namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

std::vector<std::string> sorted_subfolders(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_directory() && entry.path().filename().string()[0] != '.')
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> sorted_images_under(const fs::path& folder) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(folder, fs::directory_options::follow_directory_symlink))
    if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

DatasetPtr open_image_folder(const std::string& root, const std::string& split, const std::string& metaclass,
                             bool skip_bad_entries, bool verify_images) {
  const fs::path folder = split.empty() ? fs::path(root) : fs::path(root) / split;
  std::error_code error;
  if (!fs::is_directory(folder, error)) throw not_found(folder.string() + ": no such folder (ImageFolder root)");

  const std::vector<std::string> class_names = sorted_subfolders(folder);
  if (class_names.empty())
    throw format_error(folder.string() + ": no class folders (ImageFolder expects one folder per class)");

  BadEntryPolicy policy(skip_bad_entries);
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
  for (size_t label = 0; label < class_names.size(); ++label) {
    const fs::path class_folder = folder / class_names[label];
    const std::vector<std::string> files = sorted_images_under(class_folder);
    if (files.empty()) policy.report(class_folder.string(), "class folder holds no .jpg, .jpeg or .png image");
    for (const std::string& file : files) {
      if (verify_images && !image_decodes(file, policy)) continue;
      paths.push_back(file);
      labels.push_back(static_cast<int64_t>(label));
    }
  }
  if (paths.empty()) throw format_error(folder.string() + ": no images in any class folder");
  return std::make_shared<FileListDataset>("image-folder " + folder.string(), class_names,
                                           metaclass.empty() ? "object" : metaclass, std::move(paths),
                                           std::move(labels));
}

}  // namespace dmx::data
