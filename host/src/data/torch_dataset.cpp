#include "diffmix/data/torch_dataset.hpp"

#include "diffmix/error.hpp"

namespace dmx::data {

TorchDataset::TorchDataset(std::shared_ptr<const Mixer> mixer, Transforms transforms, uint64_t seed)
    : mixer_(std::move(mixer)),
      transforms_(std::move(transforms)),
      seed_(seed),
      epoch_(std::make_shared<std::atomic<uint64_t>>(0)) {
  if (!mixer_) throw invalid_argument("TorchDataset: no Mixer");
}

// The same sample, with the same randomness, as dmx::data::Loader gives for (seed, epoch, index).
torch::data::Example<> TorchDataset::get(size_t index) {
  const uint64_t epoch = epoch_->load();
  const auto real_index = static_cast<int64_t>(index);
  ImageRequest request;
  request.min_size = transforms_.min_decode_size();
  MixedSample sample = mixer_->get(real_index, epoch, request);
  SampleRng rng(seed_, RandomStream::Transform, epoch, index);
  return {transforms_.apply(sample.image, rng), sample.label};
}

torch::optional<size_t> TorchDataset::size() const { return static_cast<size_t>(mixer_->size()); }

void TorchDataset::set_epoch(uint64_t epoch) { epoch_->store(epoch); }
uint64_t TorchDataset::epoch() const { return epoch_->load(); }

}  // namespace dmx::data
