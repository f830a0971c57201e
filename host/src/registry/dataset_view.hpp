// The dmx_dataset_view a sample source reads the training set through: a C table over a dmx::data::Dataset.
#pragma once

#include "diffmix/data/dataset.hpp"
#include "diffmix/plugin_api.h"

namespace dmx {

class DatasetView {
 public:
  explicit DatasetView(data::DatasetPtr dataset);
  // The table points at this object: it is neither copied nor moved.
  DatasetView(const DatasetView&) = delete;
  DatasetView& operator=(const DatasetView&) = delete;

  // Valid while this object lives.
  const dmx_dataset_view* table() const { return &table_; }

 private:
  static int64_t size(void* data);
  static int32_t num_classes(void* data);
  static const char* class_name(void* data, int32_t class_index);
  static const char* metaclass(void* data);
  static int32_t label(void* data, int64_t index);
  static dmx_status image(void* data, int64_t index, DLManagedTensor** out, dmx_error* error);

  data::DatasetPtr dataset_;
  dmx_dataset_view table_{};
};

}  // namespace dmx
