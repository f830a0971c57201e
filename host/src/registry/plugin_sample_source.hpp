// A SampleSource backed by a plugin instance, speaking the C ABI.
#pragma once

#include <memory>
#include <string>

#include "dataset_view.hpp"
#include "diffmix/sample_source.hpp"
#include "plugin_library.hpp"

namespace dmx {

class PluginSampleSource final : public SampleSource {
 public:
  // Takes `instance`, created by `factory` with `dataset_view`'s table: both outlive it here.
  PluginSampleSource(std::shared_ptr<PluginLibrary> library, const dmx_augmenter_factory& factory,
                     std::unique_ptr<DatasetView> dataset_view, void* instance, int64_t num_classes);
  ~PluginSampleSource() override;

  void prepare() override;
  void synthesize(const std::string& out_dir, int64_t count) override;
  bool can_synthesize_part() const override;
  void synthesize_part(const std::string& out_dir, int64_t count, int64_t begin, int64_t end) override;
  std::optional<Sample> next() override;
  bool can_stream() const override;
  bool can_seek() const override;
  void seek(int64_t index) override;
  const std::string& name() const override { return name_; }

 private:
  // Throws the dmx::Error for a failed call, in the category of the plugin's status.
  [[noreturn]] void fail(const char* call, dmx_status status, dmx_error& error) const;
  // Refuses a sample the rest of the host cannot use: a wrong type or shape, a soft label that is not a
  // distribution.
  void check_sample(const Sample& sample) const;

  std::shared_ptr<PluginLibrary> library_;      // declared first: destroyed last, after the instance
  std::unique_ptr<DatasetView> dataset_view_;   // the instance may read it until it is destroyed
  const dmx_augmenter_factory& factory_;
  void* instance_;
  int64_t num_classes_;
  std::string name_;
};

}  // namespace dmx
