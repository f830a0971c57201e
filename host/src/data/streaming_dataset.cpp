#include "diffmix/streaming_dataset.hpp"

#include "diffmix/error.hpp"

namespace dmx {
namespace {

data::SampleStreamOptions stream_options(const data::Dataset& real, const StreamingOptions& options) {
  data::SampleStreamOptions stream;
  stream.cache = options.cache;
  stream.total = options.total > 0 ? options.total : kDefaultStreamMultiplier * real.size();
  stream.queue = options.queue;
  stream.synchronous = options.synchronous;
  stream.per_epoch = options.per_epoch;
  stream.gamma = options.gamma;
  return stream;
}

data::MixerOptions mixer_options(const StreamingOptions& options) {
  data::MixerOptions mixer;
  mixer.probability = options.probability;
  mixer.mode = options.mode;
  mixer.seed = options.seed;
  return mixer;
}

std::shared_ptr<data::SampleStream> start_stream(const data::DatasetPtr& real,
                                                 const std::shared_ptr<SampleSource>& source,
                                                 const StreamingOptions& options) {
  if (!real) throw invalid_argument("StreamingDataset: no real dataset");
  return std::make_shared<data::SampleStream>(source, real->num_classes(), stream_options(*real, options));
}

}  // namespace

StreamingDataset::StreamingDataset(data::DatasetPtr real, std::shared_ptr<SampleSource> source,
                                   data::Transforms transforms, const StreamingOptions& options)
    : stream_(start_stream(real, source, options)),
      mixer_(std::make_shared<data::Mixer>(real, stream_, mixer_options(options))),
      dataset_(mixer_, std::move(transforms), options.seed) {}

torch::data::Example<> StreamingDataset::get(size_t index) { return dataset_.get(index); }

torch::optional<size_t> StreamingDataset::size() const { return dataset_.size(); }

}  // namespace dmx
