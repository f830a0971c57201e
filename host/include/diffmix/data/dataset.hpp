// Dataset: a labelled image collection (Fashion-MNIST, an ImageFolder tree, CUB-200-2011, or a Subset of one).
//
// Indexing is cheap and done once when a dataset is opened; images are decoded on demand by load_image(), which is
// safe to call from several threads at once (the loader's workers do). Class names and a metaclass ("bird",
// "clothing", ...) are part of every dataset: the diffusion prompts need them.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dmx::data {

// What the caller wants from load_image().
struct ImageRequest {
  // 3: RGB (gray images are repeated to three channels); 0: as stored (Fashion-MNIST gives 1 channel).
  int channels = 3;
  // A hint that the image will be resized so that its short side is >= min_size: JPEGs may then be decoded at a
  // reduced DCT scale. 0: full size.
  int64_t min_size = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual int64_t size() const = 0;
  // Class index of sample `index`, in [0, num_classes()).
  virtual int64_t label(int64_t index) const = 0;
  // Decoded uint8 H×W×C tensor. A corrupt or missing image is a dmx::Error naming the file.
  virtual at::Tensor load_image(int64_t index, const ImageRequest& request = {}) const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  virtual const std::string& metaclass() const = 0;
  // Used in messages: "fashion-mnist train (/usr/share/datasets/fashion-mnist)".
  virtual const std::string& name() const = 0;
  // Where sample `index` comes from, for messages: an image path, or "train-images-idx3-ubyte.gz image 17".
  virtual std::string describe(int64_t index) const = 0;

  int64_t num_classes() const { return static_cast<int64_t>(class_names().size()); }
  // Number of samples per class, indexed by class.
  std::vector<int64_t> class_counts() const;
  // Throws an invalid-argument error naming this dataset when index is outside [0, size()).
  void check_index(int64_t index) const;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

// A view of some samples of another dataset, in the given order (k-shot, long-tail, train/test splits).
class Subset : public Dataset {
 public:
  // `description` is appended to the base's name ("5-shot seed 0"). Indices must be valid for `base`.
  Subset(DatasetPtr base, std::vector<int64_t> indices, const std::string& description);

  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  int64_t label(int64_t index) const override;
  at::Tensor load_image(int64_t index, const ImageRequest& request = {}) const override;
  const std::vector<std::string>& class_names() const override { return base_->class_names(); }
  const std::string& metaclass() const override { return base_->metaclass(); }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override;

  const DatasetPtr& base() const { return base_; }
  // Indices into base(), one per sample of this subset.
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  DatasetPtr base_;
  std::vector<int64_t> indices_;
  std::string name_;
};

}  // namespace dmx::data
