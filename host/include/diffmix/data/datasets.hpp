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
#include <string>
#include <vector>

#include "diffmix/data/dataset.hpp"

namespace dmx::data {

// The Debian package `dataset-fashion-mnist` installs the four IDX files here.
inline constexpr const char* kFashionMnistDefaultRoot = "/usr/share/datasets/fashion-mnist";

// T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.
const std::vector<std::string>& fashion_mnist_class_names();

struct DatasetSpec {
  std::string kind = "fashion-mnist";  // "fashion-mnist", "image-folder" or "cub"
  std::string root;                    // empty: the kind's default (only Fashion-MNIST has one)
  std::string split = "train";         // "train" or "test" (ImageFolder: a subfolder name, or "" for root itself)
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

}  // namespace dmx::data
