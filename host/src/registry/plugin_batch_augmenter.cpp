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
  try {
    Batch result;
    result.images = dlpack::import_tensor(out_images.tensor);
    out_images.release();
    result.labels = dlpack::import_tensor(out_labels.tensor);
    out_labels.release();
    check_result(batch, result);
    return result;
  } catch (const Error& e) {
    throw Error(e.category(), "augmenter '" + name_ + "' (" + library_->path() + "): " + e.what());
  } catch (const std::exception& e) {
    throw plugin_error("augmenter '" + name_ + "' (" + library_->path() + "): " + e.what());
  }
}

namespace {

std::string describe(const at::Tensor& t) {
  std::string text = std::string(at::toString(t.scalar_type())) + " [";
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? ", " : "") + std::to_string(t.size(d));
  return text + "] on " + t.device().str();
}

}  // namespace

// The trainer feeds the result to the model and the loss as it fed the input: same images' type, shape and device,
// and one soft label per image that is a distribution over the classes.
void PluginBatchAugmenter::check_result(const Batch& in, const Batch& out) const {
  if (out.images.sizes() != in.images.sizes() || out.images.scalar_type() != in.images.scalar_type() ||
      out.images.device() != in.images.device())
    throw shape_error("images must keep the input's " + describe(in.images) + ", got " + describe(out.images));
  if (out.labels.dim() != 2 || out.labels.size(0) != in.images.size(0) || !out.labels.is_floating_point() ||
      out.labels.device() != in.images.device())
    throw shape_error("labels must be floating point [" + std::to_string(in.images.size(0)) + ", classes] on " +
                      in.images.device().str() + ", got " + describe(out.labels));
  const at::Tensor sums = out.labels.sum(1).to(at::kDouble);
  const double worst = (sums - 1.0).abs().max().item<double>();
  const bool negative = out.labels.lt(0).any().item<bool>();
  if (negative || !(worst <= 1e-3))
    throw invalid_argument("each label row must be non-negative and sum to 1; a row is off by " +
                           std::to_string(worst) + (negative ? " and has negative entries" : ""));
}

}  // namespace dmx
