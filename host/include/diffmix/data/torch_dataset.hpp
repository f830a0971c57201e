// TorchDataset: the Mixer as a torch::data dataset, for trainers already built on LibTorch's data API.
//
//   auto dataset = dmx::data::TorchDataset(mixer, dmx::data::Transforms::train(224), /*seed=*/0)
//                      .map(torch::data::transforms::Stack<>());
//   auto loader = torch::data::make_data_loader(std::move(dataset), torch::data::DataLoaderOptions(64).workers(2));
//   for (auto& batch : *loader) { /* batch.data: N×C×H×W float, batch.target: N×K soft labels */ }
//
// Each get(i) returns {transformed image C×H×W, soft label K}. Randomness is a function of (seed, epoch, i); call
// set_epoch() between epochs (torch::data copies the dataset into its workers, so the epoch is shared through a
// pointer). This header pulls in torch::data, which is heavy: include it only where it is used.
#pragma once

#include <torch/csrc/utils/variadic.h>  // torch::enable_if_t, which map.h uses without including
#include <torch/data/datasets/base.h>
#include <torch/data/datasets/map.h>
#include <torch/data/example.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "diffmix/data/mixer.hpp"
#include "diffmix/data/transforms.hpp"

namespace dmx::data {

class TorchDataset : public torch::data::datasets::Dataset<TorchDataset, torch::data::Example<>> {
 public:
  TorchDataset(std::shared_ptr<const Mixer> mixer, Transforms transforms, uint64_t seed = 0);

  torch::data::Example<> get(size_t index) override;
  torch::optional<size_t> size() const override;

  // Takes effect for every copy of this dataset (the data loader's workers hold copies).
  void set_epoch(uint64_t epoch);
  uint64_t epoch() const;

 private:
  std::shared_ptr<const Mixer> mixer_;
  Transforms transforms_;
  uint64_t seed_;
  std::shared_ptr<std::atomic<uint64_t>> epoch_;
};

}  // namespace dmx::data
