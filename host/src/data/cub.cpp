// CUB-200-2011 as distributed: four index files of "<id> <value>" lines and the images under images/.
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "file_list_dataset.hpp"

namespace dmx::data {
namespace {

namespace fs = std::filesystem;

// Parses a positive integer field; false when it is not one.
bool parse_positive(const std::string& text, int64_t& out) {
  try {
    size_t used = 0;
    out = std::stoll(text, &used);
    return used == text.size() && out > 0;
  } catch (const std::exception&) {
    return false;
  }
}

// One index file parsed into id → value. A line that is not "<positive id> <value>", or repeats an id, is reported
// (error or skip) with file:line.
std::map<int64_t, std::string> read_index(const std::string& path, BadEntryPolicy& policy) {
  std::map<int64_t, std::string> entries;
  const std::vector<std::string> lines = read_lines(path);
  for (size_t n = 0; n < lines.size(); ++n) {
    const std::string where = path + ":" + std::to_string(n + 1);
    if (lines[n].find_first_not_of(" \t") == std::string::npos) continue;
    std::istringstream fields(lines[n]);
    std::string id_text, value, extra;
    fields >> id_text >> value >> extra;
    int64_t id = 0;
    if (!parse_positive(id_text, id) || value.empty() || !extra.empty()) {
      policy.report(where, "expected '<id> <value>', got '" + lines[n] + "'");
      continue;
    }
    if (!entries.emplace(id, value).second) policy.report(where, "id " + id_text + " appears twice");
  }
  return entries;
}

}  // namespace

DatasetPtr open_cub(const std::string& root, const std::string& split, bool skip_bad_entries, bool verify_images) {
  if (split != "train" && split != "test" && split != "all")
    throw invalid_argument("cub: unknown split '" + split + "' (expected train, test or all)");
  BadEntryPolicy policy(skip_bad_entries);
  const std::string classes_file = root + "/classes.txt";
  const std::string images_file = root + "/images.txt";
  const std::string labels_file = root + "/image_class_labels.txt";
  const std::string split_file = root + "/train_test_split.txt";
  const auto classes = read_index(classes_file, policy);
  const auto images = read_index(images_file, policy);
  const auto labels = read_index(labels_file, policy);
  const auto splits = read_index(split_file, policy);

  // Class ids must be 1..N without gaps, so that class index = id − 1 matches the authors' labels.
  std::vector<std::string> class_names;
  for (const auto& [id, folder_name] : classes) {
    if (id != static_cast<int64_t>(class_names.size()) + 1)
      throw format_error(classes_file + ": class ids must run 1.." + std::to_string(classes.size()) +
                         " without gaps; found id " + std::to_string(id));
    class_names.push_back(cub_class_name(folder_name));
  }
  if (class_names.empty()) throw format_error(classes_file + ": no classes");

  std::vector<std::string> paths;
  std::vector<int64_t> image_labels;
  for (const auto& [id, relative_path] : images) {
    const std::string where = images_file + ": image id " + std::to_string(id);
    const auto label = labels.find(id);
    const auto in_train = splits.find(id);
    int64_t class_id = 0;
    if (label == labels.end()) {
      policy.report(where, "has no line in " + labels_file);
      continue;
    }
    if (!parse_positive(label->second, class_id) || class_id > static_cast<int64_t>(class_names.size())) {
      policy.report(labels_file + ": image id " + std::to_string(id),
                    "class '" + label->second + "' is not a class id in [1, " + std::to_string(class_names.size()) +
                        "]");
      continue;
    }
    if (in_train == splits.end() || (in_train->second != "0" && in_train->second != "1")) {
      policy.report(split_file + ": image id " + std::to_string(id),
                    in_train == splits.end() ? "missing" : "split flag '" + in_train->second + "' is not 0 or 1");
      continue;
    }
    const bool is_train = in_train->second == "1";
    if ((split == "train" && !is_train) || (split == "test" && is_train)) continue;
    const std::string path = root + "/images/" + relative_path;
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
      policy.report(where, "image file " + path + " does not exist");
      continue;
    }
    if (verify_images && !image_decodes(path, policy)) continue;
    paths.push_back(path);
    image_labels.push_back(class_id - 1);
  }
  if (paths.empty()) throw format_error(images_file + ": no images in split '" + split + "'");
  return std::make_shared<FileListDataset>("cub " + split + " (" + root + ")", std::move(class_names), "bird",
                                           std::move(paths), std::move(image_labels));
}

}  // namespace dmx::data
