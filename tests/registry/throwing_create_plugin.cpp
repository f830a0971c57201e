// A C++ plugin whose augmenter constructor throws: the exception must arrive as a status and message, the plugin
// itself stays listed, and its other augmenter still works.
#include "diffmix/plugin.hpp"

namespace {

class AlwaysThrows {
 public:
  static constexpr const char* kName = "always_throws";
  static constexpr const char* kDescription = "its constructor throws";
  static constexpr const char* kConfigSchema = "[]";
  explicit AlwaysThrows(const dmx::plugin::Context&) { throw dmx::not_found("weights file 'missing.safetensors' does not exist"); }
  dmx::Batch apply(const dmx::Batch& batch, uint64_t) { return batch; }
};

class Identity {
 public:
  static constexpr const char* kName = "identity";
  static constexpr const char* kDescription = "returns its input";
  static constexpr const char* kConfigSchema = R"([{"key": "scale", "type": "float", "min": 0.0, "max": 10.0}])";
  explicit Identity(const dmx::plugin::Context& context) : scale_(context.config().number("scale", 1.0)) {}
  dmx::Batch apply(const dmx::Batch& batch, uint64_t) { return {batch.images * scale_, batch.labels.clone()}; }

 private:
  double scale_;
};

}  // namespace

DMX_PLUGIN("throwing_create", "0.1.0", "create throws", dmx::plugin::batch_augmenter<AlwaysThrows>(),
           dmx::plugin::batch_augmenter<Identity>())
