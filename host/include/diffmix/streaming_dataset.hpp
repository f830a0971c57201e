// StreamingDataset: a real dataset with some samples replaced by synthetic ones that a sample source makes while
// training runs — the torch::data face of dmx::data::SampleStream and the Mixer, for trainers of your own.
//
//   dmx::PluginRegistry registry;
//   auto source = registry.create_sample_source("diff_mix", source_table, context);  // context.dataset = real
//   dmx::StreamingOptions options;
//   options.cache = "cache/stream";   // streamed samples persist here; a rerun reuses them
//   options.probability = 0.1;
//   dmx::StreamingDataset dataset(real, source, dmx::data::Transforms().normalize(mean, std), options);
//   auto loader = torch::data::make_data_loader(dataset.map(dmx::StackAndAugment(chain, num_classes)), 64);
//   for (int epoch = 0; epoch < epochs; ++epoch) {
//     dataset.set_epoch(epoch);   // copies inside the loader see it too
//     for (auto& batch : *loader) { /* batch.target: N×K soft labels */ }
//     dataset.rethrow_if_failed();  // the sample source's error, if it stopped
//   }
//
// The dataset owns the stream's threads; copies (the data loader makes some) share them, and they stop when the last
// copy goes (or at stop()). Each get(i) returns {transformed image C×H×W float, soft label K}, as
// dmx::data::TorchDataset does. See docs/streaming.md. This header pulls in torch::data: include it only where the
// data pipeline is built.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "diffmix/data/dataset.hpp"
#include "diffmix/data/mixer.hpp"
#include "diffmix/data/sample_stream.hpp"
#include "diffmix/data/torch_dataset.hpp"
#include "diffmix/data/transforms.hpp"
#include "diffmix/sample_source.hpp"

namespace dmx {

// The paper's synthetic set size: 5 samples per real image.
inline constexpr int64_t kDefaultStreamMultiplier = 5;

struct StreamingOptions {
  std::string cache;            // required: the folder streamed samples persist in
  double probability = 0.1;     // chance that a real sample is replaced by one already made
  data::MixMode mode = data::MixMode::Uniform;
  double gamma = data::kDefaultSoftLabelGamma;
  uint64_t seed = 0;            // the Mixer's and the transforms' randomness (the source has its own context seed)
  int64_t total = 0;            // the most samples the stream makes; 0: kDefaultStreamMultiplier × |real|
  int64_t queue = data::kDefaultStreamQueue;
  bool synchronous = false;     // epoch e uses exactly the first min(total, e·per_epoch) samples, waiting for them
  int64_t per_epoch = 0;        // required when synchronous
};

class StreamingDataset : public torch::data::datasets::Dataset<StreamingDataset, torch::data::Example<>> {
 public:
  // Starts the stream. `source` must stream (and seek, when `cache` already holds samples); its context's dataset
  // should be `real`.
  StreamingDataset(data::DatasetPtr real, std::shared_ptr<SampleSource> source, data::Transforms transforms,
                   const StreamingOptions& options);

  torch::data::Example<> get(size_t index) override;
  torch::optional<size_t> size() const override;

  // Takes effect for every copy of this dataset.
  void set_epoch(uint64_t epoch) { dataset_.set_epoch(epoch); }
  uint64_t epoch() const { return dataset_.epoch(); }
  // Throws the sample source's error if the stream stopped on one (get() throws it too).
  void rethrow_if_failed() const { stream_->rethrow_if_failed(); }
  // Ends the stream for every copy (the cache stays valid; a new dataset on it resumes).
  void stop() { stream_->stop(); }
  const data::SampleStream& stream() const { return *stream_; }
  const data::Mixer& mixer() const { return *mixer_; }

 private:
  std::shared_ptr<data::SampleStream> stream_;
  std::shared_ptr<const data::Mixer> mixer_;
  data::TorchDataset dataset_;
};

}  // namespace dmx
