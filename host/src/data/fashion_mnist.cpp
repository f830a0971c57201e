// Fashion-MNIST from its IDX files (gzipped as distributed, or plain): a big-endian magic number (0x801 labels,
// 0x803 images), the dimensions, then raw uint8 data.
#include <zlib.h>

#include <array>
#include <cstring>
#include <memory>

#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "file_list_dataset.hpp"

namespace dmx::data {

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

namespace {

constexpr uint32_t kLabelMagic = 0x00000801;
constexpr uint32_t kImageMagic = 0x00000803;

// gzread reads gzipped and plain files alike.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    if (!file_) throw not_found(path + ": no such file (or not readable)");
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Fills out[0, size); `offset` and `total` place this read inside a larger one, for the message.
  void read(void* out, size_t size, const std::string& what, size_t offset = 0, size_t total = 0) {
    auto* bytes = static_cast<uint8_t*>(out);
    size_t done = 0;
    while (done < size) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - done, 1u << 30));
      const int got = gzread(file_, bytes + done, chunk);
      if (got < 0) {
        int code = 0;
        throw format_error(path_ + ": corrupt gzip data while reading " + what + ": " + gzerror(file_, &code));
      }
      if (got == 0)
        throw format_error(path_ + ": file ends early while reading " + what + " (" + std::to_string(offset + done) +
                           " of " + std::to_string(total > 0 ? total : size) + " bytes)");
      done += static_cast<size_t>(got);
    }
  }
  // `size` bytes, allocated as they arrive: a header that claims more than the file holds costs no memory.
  // Reads in chunks that grow from 64 KB to 16 MB, so that a header claiming more than the file holds costs about
  // the file's size in memory before it fails, not the claimed size.
  std::vector<uint8_t> read_bytes(size_t size, const std::string& what) {
    constexpr size_t kLargestChunk = size_t{1} << 24;
    size_t chunk = size_t{1} << 16;
    std::vector<uint8_t> bytes;
    while (bytes.size() < size) {
      const size_t done = bytes.size();
      bytes.resize(done + std::min(size - done, chunk));
      read(bytes.data() + done, bytes.size() - done, what, done, size);
      chunk = std::min(chunk * 2, kLargestChunk);
    }
    return bytes;
  }
  uint32_t read_u32(const std::string& what) {
    std::array<uint8_t, 4> b{};
    read(b.data(), 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
  }
  bool at_end() {
    uint8_t extra = 0;
    return gzread(file_, &extra, 1) == 0;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  gzFile file_;
};

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  GzFile file(path);
  const uint32_t magic = file.read_u32("the magic number");
  if (magic != kLabelMagic)
    throw format_error(path + ": not an IDX label file (magic " + std::to_string(magic) + ", expected 2049)");
  const uint32_t count = file.read_u32("the label count");
  std::vector<uint8_t> labels = file.read_bytes(count, std::to_string(count) + " labels");
  if (!file.at_end()) throw format_error(path + ": unexpected bytes after " + std::to_string(count) + " labels");
  return labels;
}

at::Tensor read_idx_images(const std::string& path) {
  GzFile file(path);
  const uint32_t magic = file.read_u32("the magic number");
  if (magic != kImageMagic)
    throw format_error(path + ": not an IDX image file (magic " + std::to_string(magic) + ", expected 2051)");
  const uint32_t count = file.read_u32("the image count");
  const uint32_t rows = file.read_u32("the row count");
  const uint32_t cols = file.read_u32("the column count");
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
    throw format_error(path + ": implausible image size " + std::to_string(rows) + "x" + std::to_string(cols));
  if (uint64_t{count} * rows * cols > (uint64_t{1} << 34))
    throw format_error(path + ": implausible image count " + std::to_string(count));
  const std::vector<uint8_t> pixels =
      file.read_bytes(size_t{count} * rows * cols, std::to_string(count) + " images");
  at::Tensor images = at::empty({int64_t{count}, int64_t{rows}, int64_t{cols}}, at::kByte);
  if (!pixels.empty()) std::memcpy(images.data_ptr<uint8_t>(), pixels.data(), pixels.size());
  if (!file.at_end()) throw format_error(path + ": unexpected bytes after " + std::to_string(count) + " images");
  return images;
}

class FashionMnist : public Dataset {
 public:
  FashionMnist(const std::string& root, const std::string& split, bool skip_bad_entries) {
    if (split != "train" && split != "test")
      throw invalid_argument("fashion-mnist: unknown split '" + split + "' (expected train or test)");
    const std::string prefix = root + "/" + (split == "train" ? "train" : "t10k");
    images_path_ = prefix + "-images-idx3-ubyte.gz";
    const std::string labels_path = prefix + "-labels-idx1-ubyte.gz";
    name_ = "fashion-mnist " + split + " (" + root + ")";

    const at::Tensor images = read_idx_images(images_path_);
    const std::vector<uint8_t> labels = read_idx_labels(labels_path);
    if (static_cast<int64_t>(labels.size()) != images.size(0))
      throw format_error(labels_path + ": " + std::to_string(labels.size()) + " labels for " +
                         std::to_string(images.size(0)) + " images in " + images_path_);

    BadEntryPolicy policy(skip_bad_entries);
    const auto num_classes = static_cast<uint8_t>(fashion_mnist_class_names().size());
    std::vector<int64_t> keep;
    keep.reserve(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] < num_classes) {
        keep.push_back(static_cast<int64_t>(i));
        labels_.push_back(labels[i]);
      } else {
        policy.report(labels_path + ": label " + std::to_string(i),
                      "class " + std::to_string(labels[i]) + " outside [0, " + std::to_string(num_classes) + ")");
      }
    }
    stored_index_ = keep;
    images_ = keep.size() == labels.size() ? images : images.index_select(0, at::tensor(keep, at::kLong));
  }

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t label(int64_t index) const override {
    check_index(index);
    return labels_[static_cast<size_t>(index)];
  }
  at::Tensor load_image(int64_t index, const ImageRequest& request) const override {
    check_index(index);
    at::Tensor gray = images_[index].unsqueeze(2);  // H×W×1, a view
    if (request.channels == 3) return gray.expand({gray.size(0), gray.size(1), 3}).contiguous();
    return gray.clone();
  }
  const std::vector<std::string>& class_names() const override { return fashion_mnist_class_names(); }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override {
    check_index(index);
    return images_path_ + " image " + std::to_string(stored_index_[static_cast<size_t>(index)]);
  }

 private:
  std::string images_path_;
  std::string name_;
  std::string metaclass_ = "clothing";
  at::Tensor images_;  // N×28×28 uint8
  std::vector<int64_t> labels_;
  std::vector<int64_t> stored_index_;  // position in the file of each kept sample
};

}  // namespace

DatasetPtr open_fashion_mnist(const std::string& root, const std::string& split, bool skip_bad_entries) {
  return std::make_shared<FashionMnist>(root.empty() ? kFashionMnistDefaultRoot : root, split, skip_bad_entries);
}

}  // namespace dmx::data
