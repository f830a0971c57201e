#include "plugin_batch_augmenter.hpp"

#include "diffmix/dlpack.hpp"
#include "diffmix/error.hpp"
#include "host_services.hpp"
#include "managed_tensor.hpp"
#include "received_tensors.hpp"

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
  try {
    Batch result{out_images.import(), out_labels.import()};
    check_result(batch, result);
    return result;
  } catch (const Error& e) {
    throw Error(e.category(), "augmenter '" + name_ + "' (" + library_->path() + "): " + e.what());
  } catch (const std::exception& e) {
    throw plugin_error("augmenter '" + name_ + "' (" + library_->path() + "): " + e.what());
  }
}

// The trainer feeds the result to the model and the loss as it fed the input: same images' type, shape and device,
// and one soft label per image that is a distribution over the classes.
void PluginBatchAugmenter::check_result(const Batch& in, const Batch& out) {
  if (out.images.sizes() != in.images.sizes() || out.images.scalar_type() != in.images.scalar_type() ||
      out.images.device() != in.images.device())
    throw shape_error("images must keep the input's " + describe_tensor(in.images) + ", got " + describe_tensor(out.images));
  if (out.labels.dim() != 2 || out.labels.size(0) != in.images.size(0) || !out.labels.is_floating_point() ||
      out.labels.device() != in.images.device())
    throw shape_error("labels must be floating point [" + std::to_string(in.images.size(0)) + ", classes] on " +
                      in.images.device().str() + ", got " + describe_tensor(out.labels));
  // The values are checked on the augmenter's first result only: the metadata checks above cost nothing, but reading
  // the labels back costs tens of microseconds a batch (a sync on a GPU), against an ABI round trip of under one.
  if (labels_checked_) return;
  const double worst = distribution_error(out.labels);
  if (!(worst <= kDistributionTolerance))
    throw invalid_argument("each label row must be non-negative and sum to 1; a row is off by " +
                           std::to_string(worst));
  labels_checked_ = true;
}

}  // namespace dmx
