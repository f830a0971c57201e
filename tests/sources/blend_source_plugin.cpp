// blend_source: a small but real sample source for the host's tests, spoken to through the plugin ABI only.
//
// Sample k depends only on (seed, k): it takes a reference image (source class) and a second image (target class)
// from the dataset view and blends them, image = (1 − s)·reference + s·other, with s from kStrengths; mode "copy"
// returns the reference unchanged (s = 0), so a test can compare what crossed the view with the dataset itself.
// synthesize() writes the cache folder itself with dmx::data::SyntheticCacheWriter, resumably, checking the host's
// cancellation flag between samples — what the diffusion sources do with Stable Diffusion in place of the blend.
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/plugin.hpp"

namespace {

constexpr float kStrengths[] = {0.25f, 0.5f, 0.75f};

// SplitMix64: one well-mixed 64-bit value per (seed, job, draw), the same on every machine.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

dmx::Error error_from(dmx_status status, const std::string& message) {
  switch (status) {
    case DMX_STATUS_INVALID_ARGUMENT: return dmx::invalid_argument(message);
    case DMX_STATUS_NOT_FOUND: return dmx::not_found(message);
    case DMX_STATUS_IO: return dmx::io_error(message);
    case DMX_STATUS_FORMAT: return dmx::format_error(message);
    case DMX_STATUS_SHAPE: return dmx::shape_error(message);
    case DMX_STATUS_CANCELLED: return dmx::cancelled(message);
    default: return dmx::internal_error(message);
  }
}

class BlendSource {
 public:
  static constexpr const char* kName = "blend_source";
  static constexpr const char* kDescription = "Blends two dataset images of different classes (a test sample source)";
  static constexpr const char* kConfigSchema = R"([
    {"key":"mode","type":"string","default":"blend","choices":["blend","copy"],"doc":"blend two images or copy one"},
    {"key":"stream_count","type":"integer","default":0,"min":0,"doc":"samples next() gives; 0: one per dataset image"}
  ])";

  explicit BlendSource(const dmx::plugin::Context& context)
      : context_(context),
        copy_(context.config().string("mode", "blend") == "copy"),
        stream_count_(context.config().integer("stream_count", 0)) {
    const dmx_dataset_view* view = context.dataset();
    if (!view || view->struct_size < DMX_DATASET_VIEW_SIZE_1_0)
      throw dmx::invalid_argument(context.name() + ": needs a dataset view");
    view_ = *view;
    if (view_.size(view_.data) <= 0) throw dmx::invalid_argument(context.name() + ": the dataset is empty");
    if (view_.num_classes(view_.data) != context.num_classes())
      throw dmx::invalid_argument(context.name() + ": dataset and context disagree on the number of classes");
    if (stream_count_ == 0) stream_count_ = view_.size(view_.data);
  }

  // There is no model to load; what a real source would do here is to check that its inputs make sense.
  void prepare() {
    std::string classes;
    for (int32_t k = 0; k < view_.num_classes(view_.data); ++k) {
      const char* name = view_.class_name(view_.data, k);
      if (!name) throw dmx::invalid_argument(context_.name() + ": class " + std::to_string(k) + " has no name");
      classes += (k ? ", " : "") + std::string(name);
    }
    context_.log(DMX_LOG_DEBUG, std::string("prepared on metaclass '") + view_.metaclass(view_.data) +
                                    "' with classes " + classes);
    prepared_ = true;
  }

  void synthesize(const std::string& out_dir, int64_t count) {
    require_prepared();
    dmx::data::SyntheticCacheWriter writer(out_dir);
    for (int64_t job = writer.size(); job < count; ++job) {
      if (context_.cancelled())
        throw dmx::cancelled(context_.name() + ": synthesis interrupted with " + std::to_string(job) + " of " +
                             std::to_string(count) + " samples in " + out_dir + "; run it again to resume");
      const dmx::plugin::Sample sample = make(job);
      dmx::data::SyntheticRecord record;
      record.source_class = sample.source_class;
      record.target_class = sample.target_class;
      record.strength = sample.strength;
      record.seed = sample.seed;
      writer.add(sample.image, record);
      context_.progress("blend_source synthesis", static_cast<uint64_t>(job + 1), static_cast<uint64_t>(count));
    }
  }

  std::optional<dmx::plugin::Sample> next() {
    require_prepared();
    if (next_job_ >= stream_count_) return std::nullopt;
    return make(next_job_++);
  }

  void seek(int64_t index) { next_job_ = index; }

 private:
  void require_prepared() const {
    if (!prepared_) throw dmx::invalid_argument(context_.name() + ": call prepare() before making samples");
  }

  at::Tensor image(int64_t index) const {
    DLManagedTensor* managed = nullptr;
    dmx_error error{};
    const dmx_status status = view_.image(view_.data, index, &managed, &error);
    if (status != DMX_STATUS_OK) throw error_from(status, error.message);
    return dmx::dlpack::import_tensor(managed);
  }

  // Sample `job`: a function of (seed, job) and the dataset only, so a resumed run makes the same one.
  dmx::plugin::Sample make(int64_t job) const {
    const uint64_t job_seed = mix(context_.seed() ^ mix(static_cast<uint64_t>(job)));
    const int64_t size = view_.size(view_.data);
    const auto reference = static_cast<int64_t>(mix(job_seed + 1) % static_cast<uint64_t>(size));
    dmx::plugin::Sample sample;
    sample.seed = job_seed;
    sample.source_class = view_.label(view_.data, reference);
    at::Tensor first = image(reference);
    if (copy_) {
      sample.target_class = sample.source_class;
      sample.strength = 0.0f;
      sample.image = first;
    } else {
      const auto other = static_cast<int64_t>(mix(job_seed + 2) % static_cast<uint64_t>(size));
      sample.target_class = view_.label(view_.data, other);
      sample.strength = kStrengths[mix(job_seed + 3) % 3];
      sample.image = blend(first, image(other), sample.strength);
    }
    sample.soft_label = dmx::data::diffmix_soft_label(sample.source_class, sample.target_class, sample.strength,
                                                      context_.num_classes());
    return sample;
  }

  // (1 − s)·a + s·b, with b resized to a's size (nearest neighbour) when they differ.
  static at::Tensor blend(const at::Tensor& a, const at::Tensor& b, float strength) {
    at::Tensor other = b.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
    other = at::upsample_nearest2d(other, {a.size(0), a.size(1)}).squeeze(0).permute({1, 2, 0});
    if (other.size(2) != a.size(2)) other = other.mean(2, true).expand({-1, -1, a.size(2)});
    const at::Tensor mixed = a.to(at::kFloat) * (1.0f - strength) + other * strength;
    return mixed.round().clamp(0, 255).to(at::kByte).contiguous();
  }

  dmx::plugin::Context context_;
  dmx_dataset_view view_{};
  bool copy_;
  int64_t stream_count_;
  int64_t next_job_ = 0;
  bool prepared_ = false;
};

}  // namespace

DMX_PLUGIN("blend_source", "1.0.0", "A test sample source that blends dataset images",
           dmx::plugin::sample_source<BlendSource>())
