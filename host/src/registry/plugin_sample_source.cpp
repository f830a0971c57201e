#include "plugin_sample_source.hpp"

#include <utility>

#include "diffmix/dlpack.hpp"
#include "diffmix/error.hpp"
#include "host_services.hpp"
#include "managed_tensor.hpp"
#include "received_tensors.hpp"

namespace dmx {
namespace {

// Samples go to disk and to the data loader: a tensor elsewhere is refused before anything looks at its data.
void require_cpu(const DLManagedTensor& tensor, const char* what) {
  if (tensor.dl_tensor.device.device_type != kDLCPU)
    throw shape_error(std::string(what) + " must be on the CPU, got DLPack device type " +
                      std::to_string(tensor.dl_tensor.device.device_type));
}

}  // namespace

// What the trainer and the cache writer rely on, checked once where a plugin's mistake happens.
void PluginSampleSource::check_sample(const Sample& sample) const {
  if (sample.image.dim() != 3 || sample.image.scalar_type() != at::kByte)
    throw shape_error("image must be uint8 H×W×C, got " + describe_tensor(sample.image));
  if (sample.soft_label.dim() != 1 || sample.soft_label.size(0) != num_classes_ ||
      sample.soft_label.scalar_type() != at::kFloat)
    throw shape_error("soft label must be float [" + std::to_string(num_classes_) + "], got " +
                      describe_tensor(sample.soft_label));
  if (!(distribution_error(sample.soft_label) <= kDistributionTolerance)) {
    const bool negative = sample.soft_label.lt(0).any().item<bool>();
    throw invalid_argument("soft label must be non-negative and sum to 1, got sum " +
                           std::to_string(sample.soft_label.sum().item<double>()) +
                           (negative ? " with negative entries" : ""));
  }
}

PluginSampleSource::PluginSampleSource(std::shared_ptr<PluginLibrary> library, const dmx_augmenter_factory& factory,
                                       std::unique_ptr<DatasetView> dataset_view, void* instance, int64_t num_classes)
    : library_(std::move(library)),
      dataset_view_(std::move(dataset_view)),
      factory_(factory),
      instance_(instance),
      num_classes_(num_classes),
      name_(factory.name) {}

PluginSampleSource::~PluginSampleSource() { factory_.destroy(instance_); }

void PluginSampleSource::fail(const char* call, dmx_status status, dmx_error& error) const {
  error.message[sizeof(error.message) - 1] = '\0';
  throw Error(category_of(status), "sample source '" + name_ + "' (" + library_->path() + ") " + call + ": " +
                                       (error.message[0] ? error.message : "no reason given"));
}

void PluginSampleSource::prepare() {
  dmx_error error{};
  const dmx_status status = factory_.sample_source->prepare(instance_, &error);
  if (status != DMX_STATUS_OK) fail("prepare", status, error);
}

void PluginSampleSource::synthesize(const std::string& out_dir, int64_t count) {
  if (count < 0) throw invalid_argument("sample source '" + name_ + "': cannot synthesize " + std::to_string(count) +
                                        " samples into " + out_dir);
  dmx_error error{};
  const dmx_status status = factory_.sample_source->synthesize(instance_, out_dir.c_str(), count, &error);
  if (status != DMX_STATUS_OK) fail("synthesize", status, error);
}

// `synthesize_part` came in 1.3: an older plugin's table ends before it.
bool PluginSampleSource::can_synthesize_part() const {
  const dmx_sample_source_api* api = factory_.sample_source;
  return DMX_HAS_FIELD(api, dmx_sample_source_api, synthesize_part) && api->synthesize_part != nullptr;
}

void PluginSampleSource::synthesize_part(const std::string& out_dir, int64_t count, int64_t begin, int64_t end) {
  if (!can_synthesize_part())
    throw unsupported("sample source '" + name_ + "' (" + library_->path() + ") cannot make a part of a synthesis " +
                      "run (it offers no `synthesize_part`, added in ABI 1.3): synthesize with one process");
  if (begin < 0 || begin > end || end > count)
    throw invalid_argument("sample source '" + name_ + "': samples [" + std::to_string(begin) + ", " +
                           std::to_string(end) + ") are not a part of a run of " + std::to_string(count));
  dmx_error error{};
  const dmx_status status =
      factory_.sample_source->synthesize_part(instance_, out_dir.c_str(), count, begin, end, &error);
  if (status != DMX_STATUS_OK) fail("synthesize_part", status, error);
}

std::optional<Sample> PluginSampleSource::next() {
  if (!can_stream())
    throw unsupported("sample source '" + name_ + "' (" + library_->path() + ") cannot stream: it offers paper " +
                      "mode (synthesize) only, so use it to fill a synthetic cache");
  // The table is ours: its struct_size tells the plugin how much it may fill, and the plugin's answer how much it did.
  dmx_sample out{};
  out.struct_size = sizeof(out);
  dmx_error error{};
  const dmx_status status = factory_.sample_source->next(instance_, &out, &error);
  ManagedTensor image{out.image}, soft_label{out.soft_label};
  if (status == DMX_STATUS_EXHAUSTED) return std::nullopt;
  if (status != DMX_STATUS_OK) fail("next", status, error);
  if (out.struct_size < DMX_SAMPLE_SIZE_1_0)
    throw plugin_error("sample source '" + name_ + "' (" + library_->path() + ") next: filled " +
                       std::to_string(out.struct_size) + " bytes of the sample, fewer than the " +
                       std::to_string(DMX_SAMPLE_SIZE_1_0) + " bytes of ABI 1.0");
  if (!out.image || !out.soft_label)
    throw plugin_error("sample source '" + name_ + "' (" + library_->path() + ") next: returned no tensors");

  Sample sample;
  try {
    require_cpu(*out.image, "image");
    require_cpu(*out.soft_label, "soft label");
    sample.image = image.import();
    sample.soft_label = soft_label.import();
    check_sample(sample);
  } catch (const Error& e) {
    throw Error(e.category(), "sample source '" + name_ + "' (" + library_->path() + ") next: " + e.what());
  } catch (const std::exception& e) {
    throw plugin_error("sample source '" + name_ + "' (" + library_->path() + ") next: " + e.what());
  }
  sample.source_class = out.source_class;
  sample.target_class = out.target_class;
  sample.strength = out.strength;
  sample.seed = out.seed;
  return sample;
}

bool PluginSampleSource::can_stream() const { return factory_.sample_source->next != nullptr; }

// `seek` came in 1.1: a 1.0 plugin's table ends before it, and what lies there is not ours to read.
bool PluginSampleSource::can_seek() const {
  const dmx_sample_source_api* api = factory_.sample_source;
  return DMX_HAS_FIELD(api, dmx_sample_source_api, seek) && api->seek != nullptr;
}

void PluginSampleSource::seek(int64_t index) {
  if (!can_seek())
    throw unsupported("sample source '" + name_ + "' (" + library_->path() + ") cannot seek: it offers no `seek` " +
                      "(ABI 1.1), so a stream cannot resume at sample " + std::to_string(index));
  if (index < 0)
    throw invalid_argument("sample source '" + name_ + "': cannot seek to sample " + std::to_string(index));
  dmx_error error{};
  const dmx_status status = factory_.sample_source->seek(instance_, index, &error);
  if (status != DMX_STATUS_OK) fail("seek", status, error);
}

}  // namespace dmx
