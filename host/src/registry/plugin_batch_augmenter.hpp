// A BatchAugmenter backed by a plugin instance, speaking the C ABI.
#pragma once

#include <memory>
#include <string>

#include "diffmix/augmenter.hpp"
#include "plugin_library.hpp"

namespace dmx {

class PluginBatchAugmenter final : public BatchAugmenter {
 public:
  PluginBatchAugmenter(std::shared_ptr<PluginLibrary> library, const dmx_augmenter_factory& factory, void* instance);
  ~PluginBatchAugmenter() override;

  Batch apply(const Batch& batch, uint64_t step) override;
  const std::string& name() const override { return name_; }

 private:
  // Refuses a result the trainer cannot use in place of `in` (see the definition for what is checked).
  void check_result(const Batch& in, const Batch& out);

  std::shared_ptr<PluginLibrary> library_;  // declared first: destroyed last, after the instance
  const dmx_augmenter_factory& factory_;
  void* instance_;
  std::string name_;
  bool labels_checked_ = false;  // the first result's label values passed
};

}  // namespace dmx
