// Stanford Cars as distributed (torchvision's layout):
//   devkit/cars_meta.mat                 class_names: 196 strings ("AM General Hummer SUV 2000")
//   devkit/cars_train_annos.mat          annotations: struct array with fields fname, class (1-based), bbox_*
//   cars_test_annos_withlabels.mat       the same for the test images (also read from devkit/)
//   cars_train/<fname>, cars_test/<fname>
// Class names are written as the Diff-Mix authors' copy of the dataset writes them: lower case, '/' as a space
// ("ram c v cargo van minivan 2012"), so that prompts read "a photo of a am general hummer suv 2000 car".
#include <algorithm>
#include <cctype>
#include <memory>

#include "../io/mat_file.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "file_list_dataset.hpp"

namespace dmx::data {
namespace {

std::string authors_car_name(std::string name) {
  for (char& c : name) c = c == '/' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

DatasetPtr open_stanford_cars(const std::string& root, const std::string& split, bool skip_bad_entries,
                              bool verify_images) {
  if (split != "train" && split != "test")
    throw invalid_argument("stanford-cars: unknown split '" + split + "' (expected train or test)");
  const auto meta = io::MatFile::open(root + "/devkit/cars_meta.mat");
  std::vector<std::string> class_names = meta.strings("class_names");
  if (class_names.empty()) throw format_error(meta.path() + ": variable 'class_names' holds no classes");
  std::transform(class_names.begin(), class_names.end(), class_names.begin(), authors_car_name);

  const std::string annotations_path =
      split == "train" ? root + "/devkit/cars_train_annos.mat"
                       : first_existing({root + "/cars_test_annos_withlabels.mat",
                                         root + "/devkit/cars_test_annos_withlabels.mat"});
  const auto annotations = io::MatFile::open(annotations_path);
  const auto files = annotations.struct_strings("annotations", "fname");
  const auto classes = annotations.struct_integers("annotations", "class");
  const std::string images = root + (split == "train" ? "/cars_train/" : "/cars_test/");

  BadEntryPolicy policy(skip_bad_entries);
  FileListBuilder entries(policy, verify_images);
  const auto class_count = static_cast<int64_t>(class_names.size());
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string where = annotations_path + ": annotations element " + std::to_string(i + 1);
    if (classes[i] < 1 || classes[i] > class_count) {
      policy.report(where, "class " + std::to_string(classes[i]) + " is not in [1, " + std::to_string(class_count) +
                               "] (cars_meta.mat's classes)");
      continue;
    }
    entries.add(where, images + files[i], classes[i] - 1);
  }
  return entries.build("stanford-cars " + split + " (" + root + ")", std::move(class_names), "car", annotations_path,
                       split);
}

}  // namespace dmx::data
