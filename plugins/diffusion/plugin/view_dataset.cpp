#include "view_dataset.hpp"

#include <utility>

#include "diffmix/dlpack.hpp"
#include "diffmix/error.hpp"
#include "diffmix/plugin.hpp"

namespace dmx::diffusion_plugin {

ViewDataset::ViewDataset(const dmx_dataset_view* view, std::string owner) : owner_(std::move(owner)) {
  if (!view || view->struct_size < DMX_DATASET_VIEW_SIZE_1_0)
    throw invalid_argument(owner_ + ": the host gave no dataset view (a diffusion source needs the training set)");
  view_ = *view;
  const int64_t count = view_.size(view_.data);
  const int32_t classes = view_.num_classes(view_.data);
  if (count <= 0) throw invalid_argument(owner_ + ": the training set is empty");
  for (int32_t c = 0; c < classes; ++c) {
    const char* name = view_.class_name(view_.data, c);
    if (!name) throw invalid_argument(owner_ + ": class " + std::to_string(c) + " has no name");
    class_names_.emplace_back(name);
  }
  const char* metaclass = view_.metaclass(view_.data);
  metaclass_ = metaclass ? metaclass : "";
  labels_.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int32_t label = view_.label(view_.data, i);
    if (label < 0 || label >= classes)
      throw invalid_argument(owner_ + ": training image " + std::to_string(i) + " has label " +
                             std::to_string(label) + " outside [0, " + std::to_string(classes) + ")");
    labels_.push_back(label);
  }
  name_ = "training set of " + owner_;
}

int64_t ViewDataset::label(int64_t index) const {
  check_index(index);
  return labels_[static_cast<size_t>(index)];
}

at::Tensor ViewDataset::load_image(int64_t index, const data::ImageRequest& request) const {
  check_index(index);
  DLManagedTensor* managed = nullptr;
  dmx_error error{};
  const dmx_status status = view_.image(view_.data, index, &managed, &error);
  if (status != DMX_STATUS_OK) {
    error.message[sizeof(error.message) - 1] = '\0';
    throw Error(plugin::category_of(status, ErrorCategory::Internal), error.message[0] ? error.message : describe(index) + ": no image");
  }
  at::Tensor image = dlpack::import_tensor(managed);
  if (request.channels == 3 && image.size(2) == 1) image = image.expand({-1, -1, 3}).contiguous();
  if (request.channels == 3 && image.size(2) == 4) image = image.narrow(2, 0, 3).contiguous();
  return image;
}

std::string ViewDataset::describe(int64_t index) const {
  return name_ + " image " + std::to_string(index);
}

}  // namespace dmx::diffusion_plugin
