#include "plugin_batch_augmenter.hpp"

#include "diffmix/dlpack.hpp"
#include "diffmix/error.hpp"
#include "host_services.hpp"
#include "managed_tensor.hpp"

namespace dmx {

PluginBatchAugmenter::PluginBatchAugmenter(std::shared_ptr<PluginLibrary> library, const dmx_augmenter_factory& factory,
                                           void* instance)
    : library_(std::move(library)), factory_(factory), instance_(instance), name_(factory.name) {}

PluginBatchAugmenter::~PluginBatchAugmenter() { factory_.destroy(instance_); }

Batch PluginBatchAugmenter::apply(const Batch& batch, uint64_t step) {
  // The input is lent: these DLPack views share memory with `batch`, which outlives the call.
  ManagedTensor images{dlpack::export_tensor(batch.images.contiguous())};
  ManagedTensor labels{dlpack::export_tensor(batch.labels.contiguous())};
  dmx_batch in{images.tensor, labels.tensor};
  dmx_batch out{nullptr, nullptr};
  dmx_error error{};
  const dmx_status status = factory_.batch_augmenter->apply(instance_, &in, step, &out, &error);
  ManagedTensor out_images{out.images}, out_labels{out.labels};
  if (status != DMX_STATUS_OK) {
    error.message[sizeof(error.message) - 1] = '\0';
    throw Error(category_of(status), "augmenter '" + name_ + "' (" + library_->path() + "): " + error.message);
  }
  if (!out.images || !out.labels)
    throw plugin_error("augmenter '" + name_ + "' (" + library_->path() + ") returned no tensors");
  return Batch{dlpack::import_tensor(out_images.release()), dlpack::import_tensor(out_labels.release())};
}

}  // namespace dmx
