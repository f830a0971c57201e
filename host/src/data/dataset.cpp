#include "diffmix/data/dataset.hpp"

#include "diffmix/error.hpp"

namespace dmx::data {

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> counts(static_cast<size_t>(num_classes()), 0);
  for (int64_t i = 0; i < size(); ++i) ++counts[static_cast<size_t>(label(i))];
  return counts;
}

void Dataset::check_index(int64_t index) const {
  if (index < 0 || index >= size())
    throw invalid_argument(name() + ": sample index " + std::to_string(index) + " outside [0, " +
                           std::to_string(size()) + ")");
}

Subset::Subset(DatasetPtr base, std::vector<int64_t> indices, const std::string& description)
    : base_(std::move(base)), indices_(std::move(indices)) {
  if (!base_) throw invalid_argument("Subset '" + description + "': no base dataset");
  for (const int64_t index : indices_) base_->check_index(index);
  name_ = description.empty() ? base_->name() : base_->name() + " [" + description + "]";
}

int64_t Subset::label(int64_t index) const {
  check_index(index);
  return base_->label(indices_[static_cast<size_t>(index)]);
}

at::Tensor Subset::load_image(int64_t index, const ImageRequest& request) const {
  check_index(index);
  return base_->load_image(indices_[static_cast<size_t>(index)], request);
}

std::string Subset::describe(int64_t index) const {
  check_index(index);
  return base_->describe(indices_[static_cast<size_t>(index)]);
}

}  // namespace dmx::data
