#include "dataset_view.hpp"

#include "diffmix/dlpack.hpp"
#include "diffmix/error.hpp"
#include "diffmix/plugin.hpp"

namespace dmx {
namespace {

const data::Dataset& dataset_of(void* data) { return *static_cast<const data::Dataset*>(data); }

}  // namespace

DatasetView::DatasetView(data::DatasetPtr dataset) : dataset_(std::move(dataset)) {
  if (!dataset_) throw invalid_argument("a sample source needs a dataset, got none");
  table_.struct_size = sizeof(dmx_dataset_view);
  table_.data = const_cast<data::Dataset*>(dataset_.get());
  table_.size = &DatasetView::size;
  table_.num_classes = &DatasetView::num_classes;
  table_.class_name = &DatasetView::class_name;
  table_.metaclass = &DatasetView::metaclass;
  table_.label = &DatasetView::label;
  table_.image = &DatasetView::image;
}

int64_t DatasetView::size(void* data) { return dataset_of(data).size(); }

int32_t DatasetView::num_classes(void* data) { return static_cast<int32_t>(dataset_of(data).num_classes()); }

// Out-of-range questions get an answer a C caller can test (NULL, -1) rather than undefined behaviour.
const char* DatasetView::class_name(void* data, int32_t class_index) {
  const auto& names = dataset_of(data).class_names();
  if (class_index < 0 || static_cast<size_t>(class_index) >= names.size()) return nullptr;
  return names[static_cast<size_t>(class_index)].c_str();
}

const char* DatasetView::metaclass(void* data) { return dataset_of(data).metaclass().c_str(); }

int32_t DatasetView::label(void* data, int64_t index) {
  const auto& dataset = dataset_of(data);
  if (index < 0 || index >= dataset.size()) return -1;
  return static_cast<int32_t>(dataset.label(index));
}

// Exceptions never cross the ABI: a corrupt image becomes a status and the dataset's message, which names the file.
dmx_status DatasetView::image(void* data, int64_t index, DLManagedTensor** out, dmx_error* error) {
  return plugin::guarded(error, [&] {
    if (!out) throw invalid_argument("dataset view image(): NULL output");
    *out = nullptr;
    const auto& dataset = dataset_of(data);
    dataset.check_index(index);
    at::Tensor image = dataset.load_image(index).to(at::kByte).contiguous();
    if (image.dim() != 3)
      throw shape_error(dataset.describe(index) + ": expected an H×W×C image, got " + std::to_string(image.dim()) +
                        " dimensions");
    *out = dlpack::export_tensor(image);
  });
}

}  // namespace dmx
