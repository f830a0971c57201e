// The dataset layouts diffmix reads, and open_dataset(), which builds one from a DatasetSpec (the `[data]` table
// of a config maps onto DatasetSpec field by field).
//
//   dmx::data::DatasetSpec spec;               // Fashion-MNIST train split from /usr/share/datasets/fashion-mnist
//   spec.shots = 5;                            // 5 images per class, chosen with spec.seed
//   auto train = dmx::data::open_dataset(spec);
//
// Malformed input (a missing file, a bad index line, an out-of-range label) is a dmx::Error naming the file and line.
// With `skip_bad_entries` the bad line or image file is logged as a warning and left out instead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diffmix/data/dataset.hpp"

namespace dmx::data {

// The Debian package `dataset-fashion-mnist` installs the four IDX files here.
inline constexpr const char* kFashionMnistDefaultRoot = "/usr/share/datasets/fashion-mnist";

// T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.
const std::vector<std::string>& fashion_mnist_class_names();

struct DatasetSpec {
  std::string kind = "fashion-mnist";  // one of dataset_kinds(): "fashion-mnist", "image-folder", "cub", ...
  std::string root;                    // empty: the kind's default (only Fashion-MNIST has one)
  std::string split = "train";         // "train" or "test", "val" / "trainval" where the layout has them
                                       // (ImageFolder: a subfolder name, or "" for root itself)
  std::string metaclass;               // empty: the kind's default ("clothing", "bird", "object")
  bool skip_bad_entries = false;       // log and leave out malformed index lines / unreadable images
  bool verify_images = false;          // decode every image once at open time (ImageFolder, CUB)
  int64_t shots = 0;                   // > 0: keep k images per class (k-shot); 0: all
  double imbalance = 1.0;              // ρ > 1: long-tail subset by eq. 4; 1: balanced as stored
  uint64_t seed = 0;                   // chooses the k-shot and long-tail samples
};

// The names accepted for DatasetSpec::kind.
const std::vector<std::string>& dataset_kinds();

// Opens the dataset and applies k-shot, then long-tail selection when asked for.
DatasetPtr open_dataset(const DatasetSpec& spec);

// The groups a test set is scored by beside its classes (Waterbirds: bird × place). group_of[i] is the group of image
// i of open_dataset(spec).
struct EvaluationGroups {
  std::vector<std::string> names;
  std::vector<int64_t> group_of;
};
// std::nullopt for kinds without groups, and for a subset (shots or imbalance): groups are scored on whole splits.
std::optional<EvaluationGroups> evaluation_groups(const DatasetSpec& spec);

// Fashion-MNIST from gzipped (or plain) IDX files: `<root>/<split>-images-idx3-ubyte.gz` and labels, where split
// "test" reads the t10k files. Images are 28×28, one channel; load_image with channels = 3 repeats it.
DatasetPtr open_fashion_mnist(const std::string& root, const std::string& split, bool skip_bad_entries = false);

// One folder per class under `root/split` (split may be empty); class names are the sorted folder names. Image
// files (.jpg, .jpeg, .png, any case) are found recursively within each class folder; other files are ignored.
// `verify_images` decodes every header at open time so that a corrupt file is reported (or skipped) up front.
DatasetPtr open_image_folder(const std::string& root, const std::string& split, const std::string& metaclass = "object",
                             bool skip_bad_entries = false, bool verify_images = false);

// CUB-200-2011: images.txt, image_class_labels.txt, train_test_split.txt, classes.txt and images/. split "train",
// "test" or "all". Class names are the readable part of classes.txt ("001.Black_footed_Albatross" → "Black footed
// Albatross"); the metaclass is "bird". `verify_images` as for ImageFolder.
DatasetPtr open_cub(const std::string& root, const std::string& split, bool skip_bad_entries = false,
                    bool verify_images = false);

// The datasets of the Diff-Mix paper in their published layouts (docs/datasets.md shows each tree). Every one has
// the class names as the paper's authors write them and its metaclass; a malformed index or annotation entry is a
// format error naming the file and the line or element (left out with `skip_bad_entries`); `verify_images` as for
// ImageFolder.

// Stanford Cars: devkit/cars_meta.mat, devkit/cars_train_annos.mat, cars_test_annos_withlabels.mat, cars_train/,
// cars_test/. Splits train, test. Metaclass "car".
DatasetPtr open_stanford_cars(const std::string& root, const std::string& split, bool skip_bad_entries = false,
                              bool verify_images = false);

// Oxford Flowers 102: imagelabels.mat, setid.mat, jpg/. Splits train, val, trainval, test (setid.mat's lists).
// Metaclass "flower".
DatasetPtr open_flowers102(const std::string& root, const std::string& split, bool skip_bad_entries = false,
                           bool verify_images = false);
// The 102 class names in label order ("pink primrose", "hard-leaved pocket orchid", ...).
const std::vector<std::string>& flowers102_class_names();

// FGVC-Aircraft 2013b at the variant level (100 classes): data/variants.txt, data/images_variant_<split>.txt,
// data/images/. `root` holds data/ (or is it). Splits train, val, trainval, test. Metaclass "aircraft".
DatasetPtr open_fgvc_aircraft(const std::string& root, const std::string& split, bool skip_bad_entries = false,
                              bool verify_images = false);

// Stanford Dogs: Images/<wnid>-<breed>/, train_list.mat and test_list.mat (in root or lists/). Splits train, test.
// Metaclass "dog".
DatasetPtr open_stanford_dogs(const std::string& root, const std::string& split, bool skip_bad_entries = false,
                              bool verify_images = false);

// Waterbirds: metadata.csv (img_filename, y, split 0/1/2, place) and the images. Splits train, val, test, and all
// (the three together: the paper tests on the whole set). Classes
// are the CUB species of the images (the paper tests a CUB classifier on it); metaclass "bird". With `groups`, it
// receives each image's group, 2·y + place, in dataset order (names in waterbirds_group_names()).
DatasetPtr open_waterbirds(const std::string& root, const std::string& split, bool skip_bad_entries = false,
                           bool verify_images = false, std::vector<int64_t>* groups = nullptr);
// "landbird on land", "landbird on water", "waterbird on land", "waterbird on water".
const std::vector<std::string>& waterbirds_group_names();

// Pascal VOC 2012 as DA-Fusion builds its classification set: the images of ImageSets/Segmentation/<split>.txt
// (splits train, val), each labelled with the class of its largest object instance by pixel count
// (SegmentationObject/ and SegmentationClass/ masks; JPEGImages/ for the images). Metaclass "object".
DatasetPtr open_pascal_voc(const std::string& root, const std::string& split, bool skip_bad_entries = false,
                           bool verify_images = false);
// "airplane", "bicycle", ..., "television": VOC's 20 classes as DA-Fusion names them.
const std::vector<std::string>& pascal_voc_class_names();

}  // namespace dmx::data
