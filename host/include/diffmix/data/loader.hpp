// Loader: batches of (images N×C×H×W float, soft labels N×K float) from a Mixer, decoded and transformed by worker
// threads ahead of the trainer.
//
//   dmx::data::Loader loader(mixer, dmx::data::Transforms::train(224), options, chain);
//   for (uint64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.start_epoch(epoch);
//     while (auto batch = loader.next()) train_step(*batch);
//   }
//
// Batch b of epoch e holds the samples at positions [b·N, (b+1)·N) of the epoch's permutation (a function of
// (seed, e)); each sample's Mixer choice and transform randomness are functions of (seed, e, sample index). So the
// batches do not depend on the number of workers or on thread timing, and start_epoch(e, b) resumes an interrupted
// epoch at batch b with exactly the batches the original run would have produced. Batch augmenters run on the calling
// thread, in next(), with step = e·batches_per_epoch() + b; with shards they see this process's part of the batch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "diffmix/augmenter.hpp"
#include "diffmix/batch.hpp"
#include "diffmix/data/mixer.hpp"
#include "diffmix/data/transforms.hpp"

namespace dmx::data {

struct LoaderOptions {
  int64_t batch_size = 32;
  int workers = 2;              // decoding threads; 0 decodes on the calling thread
  int64_t prefetch_batches = 4;  // batches decoded ahead of the consumer (bounds memory)
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  int channels = 3;  // images are decoded to 3 (RGB) channels, or 0 to keep what is stored (Fashion-MNIST: 1)
  // A sample whose image cannot be decoded is an error naming the file, or, when true, is logged and replaced by
  // the next position's sample (deterministically).
  bool skip_bad_images = false;
  // Data-parallel training: this process loads part `shard` of `shards` of every batch (contiguous parts, as equal as
  // possible). The batches, their order and every sample's randomness stay those of a single process.
  int shard = 0;
  int shards = 1;
};

class Loader {
 public:
  Loader(std::shared_ptr<const Mixer> mixer, Transforms transforms, const LoaderOptions& options,
         std::shared_ptr<const AugmentChain> augmenters = nullptr);
  // Stops the workers; a loader destroyed mid-epoch does not hang.
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Begins (or resumes at `start_batch`) an epoch; an epoch in progress is abandoned.
  void start_epoch(uint64_t epoch, int64_t start_batch = 0);
  // The next batch, or nullopt at the end of the epoch. An error raised while decoding a batch is rethrown here.
  std::optional<Batch> next();

  int64_t batches_per_epoch() const;
  // Samples in batch `batch` over all shards (batch_size, or fewer in a last partial batch).
  int64_t batch_length(int64_t batch) const;
  // Index of the batch the next call to next() returns.
  int64_t next_batch_index() const;
  int64_t num_classes() const { return mixer_->num_classes(); }
  const LoaderOptions& options() const { return options_; }

  // Builds batch `batch` of `epoch` on the calling thread, without augmenters (what the workers run). Exposed for
  // tests and tools that want one batch.
  Batch make_batch(uint64_t epoch, int64_t batch) const;
  // The epoch's order of real positions: a permutation of [0, size) when shuffling, else the identity.
  std::vector<int64_t> epoch_order(uint64_t epoch) const;

 private:
  struct Pipeline;
  Batch build_batch(const std::vector<int64_t>& order, uint64_t epoch, int64_t batch) const;
  // Decodes and transforms the sample at `real_index` into `image`; returns it with its label.
  MixedSample load_sample(int64_t real_index, uint64_t epoch, at::Tensor& image) const;

  std::shared_ptr<const Mixer> mixer_;
  Transforms transforms_;
  LoaderOptions options_;
  std::shared_ptr<const AugmentChain> augmenters_;
  std::unique_ptr<Pipeline> pipeline_;
};

}  // namespace dmx::data
