#include "diffmix/data/loader.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>

#include "diffmix/data/sample_rng.hpp"
#include "diffmix/distributed.hpp"
#include "diffmix/error.hpp"

namespace dmx::data {

// The worker threads of one epoch. Workers claim batch indices in order, at most `prefetch` ahead of the consumer,
// and file each finished batch (or the error that stopped it) under its index; next() takes them out in order.
struct Loader::Pipeline {
  const Loader* loader = nullptr;
  uint64_t epoch = 0;
  std::vector<int64_t> order;
  int64_t num_batches = 0;

  std::mutex mutex;
  std::condition_variable work_available;  // a batch may be claimed, or stop
  std::condition_variable batch_ready;
  int64_t next_to_claim = 0;
  int64_t next_to_consume = 0;
  std::map<int64_t, std::pair<Batch, std::exception_ptr>> ready;
  bool stopping = false;
  std::vector<std::thread> workers;

  void start(int count) {
    for (int i = 0; i < count; ++i) workers.emplace_back([this] { work(); });
  }

  void work() {
    const int64_t prefetch = std::max<int64_t>(1, loader->options_.prefetch_batches);
    for (;;) {
      int64_t batch = 0;
      {
        std::unique_lock<std::mutex> lock(mutex);
        work_available.wait(lock, [&] {
          return stopping || (next_to_claim < num_batches && next_to_claim < next_to_consume + prefetch);
        });
        if (stopping) return;
        batch = next_to_claim++;
      }
      std::pair<Batch, std::exception_ptr> result;
      try {
        result.first = loader->build_batch(order, epoch, batch);
      } catch (...) {
        result.second = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        ready.emplace(batch, std::move(result));
      }
      batch_ready.notify_all();
    }
  }

  std::pair<Batch, std::exception_ptr> take(int64_t batch) {
    std::unique_lock<std::mutex> lock(mutex);
    batch_ready.wait(lock, [&] { return ready.count(batch) > 0; });
    auto result = std::move(ready[batch]);
    ready.erase(batch);
    next_to_consume = batch + 1;
    lock.unlock();
    work_available.notify_all();
    return result;
  }

  // A worker in the middle of a batch finishes that batch (it cannot be interrupted) and then exits.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    work_available.notify_all();
    for (auto& worker : workers) worker.join();
    workers.clear();
  }
};

Loader::Loader(std::shared_ptr<const Mixer> mixer, Transforms transforms, const LoaderOptions& options,
               std::shared_ptr<const AugmentChain> augmenters)
    : mixer_(std::move(mixer)),
      transforms_(std::move(transforms)),
      options_(options),
      augmenters_(std::move(augmenters)) {
  if (!mixer_) throw invalid_argument("Loader: no Mixer");
  if (options_.batch_size <= 0)
    throw invalid_argument("Loader: batch_size must be > 0, got " + std::to_string(options_.batch_size));
  if (options_.workers < 0) throw invalid_argument("Loader: workers must be >= 0, got " + std::to_string(options_.workers));
  if (options_.channels != 0 && options_.channels != 1 && options_.channels != 3)
    throw invalid_argument("Loader: channels must be 0, 1 or 3, got " + std::to_string(options_.channels));
  if (mixer_->size() == 0) throw invalid_argument("Loader: " + mixer_->real().name() + " has no samples");
  if (options_.shards < 1 || options_.shard < 0 || options_.shard >= options_.shards)
    throw invalid_argument("Loader: shard " + std::to_string(options_.shard) + " of " +
                           std::to_string(options_.shards) + " does not exist");
  if (batch_length(batches_per_epoch() - 1) < options_.shards)
    throw invalid_argument("Loader: " + mixer_->real().name() + "'s last batch has " +
                           std::to_string(batch_length(batches_per_epoch() - 1)) + " samples, fewer than the " +
                           std::to_string(options_.shards) + " processes that share it");
}

Loader::~Loader() {
  if (pipeline_) pipeline_->stop();
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n = mixer_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

int64_t Loader::batch_length(int64_t batch) const {
  return std::min<int64_t>(options_.batch_size, mixer_->size() - batch * options_.batch_size);
}

int64_t Loader::next_batch_index() const { return pipeline_ ? pipeline_->next_to_consume : 0; }

std::vector<int64_t> Loader::epoch_order(uint64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(mixer_->size()));
  std::iota(order.begin(), order.end(), 0);
  if (!options_.shuffle) return order;
  SampleRng rng(options_.seed, RandomStream::Shuffle, epoch, 0);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

void Loader::start_epoch(uint64_t epoch, int64_t start_batch) {
  if (pipeline_) pipeline_->stop();
  pipeline_.reset();
  const int64_t batches = batches_per_epoch();
  if (start_batch < 0 || start_batch > batches)
    throw invalid_argument("Loader: start batch " + std::to_string(start_batch) + " outside [0, " +
                           std::to_string(batches) + "]");
  auto pipeline = std::make_unique<Pipeline>();
  pipeline->loader = this;
  pipeline->epoch = epoch;
  pipeline->order = epoch_order(epoch);
  pipeline->num_batches = batches;
  pipeline->next_to_claim = start_batch;
  pipeline->next_to_consume = start_batch;
  pipeline_ = std::move(pipeline);
  pipeline_->start(options_.workers);
}

std::optional<Batch> Loader::next() {
  if (!pipeline_) throw invalid_argument("Loader: call start_epoch() before next()");
  Pipeline& pipeline = *pipeline_;
  const int64_t batch_index = pipeline.next_to_consume;
  if (batch_index >= pipeline.num_batches) return std::nullopt;

  Batch batch;
  if (options_.workers == 0) {
    batch = build_batch(pipeline.order, pipeline.epoch, batch_index);
    pipeline.next_to_consume = batch_index + 1;
  } else {
    auto [built, error] = pipeline.take(batch_index);
    if (error) std::rethrow_exception(error);
    batch = std::move(built);
  }
  if (augmenters_ && !augmenters_->empty())
    batch = augmenters_->apply(std::move(batch),
                               pipeline.epoch * static_cast<uint64_t>(batches_per_epoch()) +
                                   static_cast<uint64_t>(batch_index));
  return batch;
}

Batch Loader::make_batch(uint64_t epoch, int64_t batch) const {
  if (batch < 0 || batch >= batches_per_epoch())
    throw invalid_argument("Loader: batch " + std::to_string(batch) + " outside [0, " +
                           std::to_string(batches_per_epoch()) + ")");
  return build_batch(epoch_order(epoch), epoch, batch);
}

MixedSample Loader::load_sample(int64_t real_index, uint64_t epoch, at::Tensor& image) const {
  ImageRequest request;
  request.channels = options_.channels;
  request.min_size = transforms_.min_decode_size();
  const int64_t n = mixer_->size();
  for (int64_t attempt = 0;; ++attempt) {
    const int64_t index = (real_index + attempt) % n;
    try {
      MixedSample sample = mixer_->get(index, epoch, request);
      SampleRng rng(options_.seed, RandomStream::Transform, epoch, static_cast<uint64_t>(index));
      image = transforms_.apply(sample.image, rng);
      return sample;
    } catch (const Error& error) {
      const bool bad_file = error.category() == ErrorCategory::Format || error.category() == ErrorCategory::NotFound;
      if (!options_.skip_bad_images || !bad_file || attempt + 1 >= n) throw;
      spdlog::warn("{} (skipped: sample {} used instead)", error.what(), (index + 1) % n);
    }
  }
}

Batch Loader::build_batch(const std::vector<int64_t>& order, uint64_t epoch, int64_t batch) const {
  const dist::Share share = dist::share_of(batch_length(batch), options_.shard, options_.shards);
  const int64_t begin = batch * options_.batch_size + share.begin;
  const int64_t end = batch * options_.batch_size + share.end;
  std::vector<at::Tensor> images, labels;
  for (int64_t position = begin; position < end; ++position) {
    at::Tensor image;
    MixedSample sample = load_sample(order[static_cast<size_t>(position)], epoch, image);
    if (!images.empty() && image.sizes() != images.front().sizes()) {
      std::ostringstream message;
      message << "Loader: " << mixer_->real().describe(order[static_cast<size_t>(position)])
              << " transforms to " << image.sizes() << " but the batch's first image is " << images.front().sizes()
              << "; add a Resize/crop to a fixed size";
      throw shape_error(message.str());
    }
    images.push_back(std::move(image));
    labels.push_back(std::move(sample.label));
  }
  return Batch{at::stack(images), at::stack(labels)};
}

}  // namespace dmx::data
