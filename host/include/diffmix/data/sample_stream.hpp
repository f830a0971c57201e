// SampleStream: synthetic samples made by a sample source while training runs, persisted as they arrive and offered
// to the Mixer as a growing SyntheticPool.
//
//   auto stream = std::make_shared<dmx::data::SampleStream>(source, num_classes, options);  // starts its threads
//   dmx::data::Mixer mixer(real, stream, mixer_options);
//   ... train; stream->rethrow_if_failed() now and then ...
//   stream->stop();
//
// Two threads: the producer calls source->prepare(), then source->next() into a bounded queue (`queue` samples at
// most); the writer takes them out in order and appends each to the cache folder with SyntheticCacheWriter (image,
// then its manifest line, fsynced) before the Mixer may draw it. The cache is always a valid synthetic cache.
//
// Resuming: samples already in the cache are reused and the source is told to seek() to the first missing one, so
// nothing is made twice. A source that cannot seek cannot resume: a non-empty cache is then an Unsupported error
// (delete the folder to start over).
//
// What the Mixer may draw (usable_size): by default whatever has been persisted so far — training never waits, and
// nothing is replaced before the first sample exists. With `synchronous`, epoch e draws from exactly the first
// min(total, e·per_epoch) samples and waits until they exist, so a run is reproducible bit for bit (epoch 0 is then
// real-only while the producer makes the next epoch's samples).
//
// Stopping: stop() (or the destructor), or dmx::request_cancel(), ends the producer after the sample in hand; the
// writer persists what is queued; both threads are joined. An error in either thread (the plugin's dmx::Error, a full
// disk) stops the stream and is rethrown, unchanged, by rethrow_if_failed() and usable_size().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "diffmix/data/bounded_queue.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/data/synthetic_pool.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sample_source.hpp"

namespace dmx::data {

inline constexpr int64_t kDefaultStreamQueue = 16;

struct SampleStreamOptions {
  std::string cache;                   // the folder streamed samples persist in (required)
  int64_t total = 0;                   // the most samples the cache will hold (> 0); those already there count
  int64_t queue = kDefaultStreamQueue;  // samples made but not yet persisted, at most
  bool synchronous = false;
  int64_t per_epoch = 0;  // synchronous: epoch e uses the first min(total, e·per_epoch) samples (> 0)
  double gamma = kDefaultSoftLabelGamma;  // soft labels of the persisted samples, as in a SyntheticCache
  // What makes the samples (sample_source_record): recorded in the cache, which is refused if it holds samples
  // made with another (SyntheticCacheWriter). Empty: not recorded or checked.
  std::string made_by;
};

class SampleStream final : public SyntheticPool {
 public:
  // Opens (or creates) the cache folder and starts both threads. Errors before any thread starts: an invalid
  // option, a source that cannot stream (naming it), a non-empty cache with a source that cannot seek.
  SampleStream(std::shared_ptr<SampleSource> source, int64_t num_classes, const SampleStreamOptions& options);
  // stop().
  ~SampleStream() override;
  SampleStream(const SampleStream&) = delete;
  SampleStream& operator=(const SampleStream&) = delete;

  // Ends the stream: the producer stops after the sample in hand, the writer persists what is queued, both threads
  // are joined. Idempotent; does not throw the stream's error (rethrow_if_failed does).
  void stop();
  // Throws the error that stopped the stream, if any: the plugin's dmx::Error, same category and message.
  void rethrow_if_failed() const;
  // Samples persisted so far.
  int64_t size() const;
  // Samples that were in the cache when the stream opened it.
  int64_t resumed_from() const { return resumed_from_; }
  // Whether both threads have ended (total reached, the source ran out, stopped, or failed).
  bool ended() const;
  // Waits until `n` samples are persisted or the stream has ended; returns size(). Throws the stream's error.
  int64_t wait_for(int64_t n) const;
  // Synchronous mode's schedule: min(total, epoch·per_epoch).
  int64_t scheduled_size(uint64_t epoch) const;
  const SampleStreamOptions& options() const { return options_; }
  const std::string& source_name() const { return source_->name(); }

  // SyntheticPool.
  int64_t num_classes() const override { return num_classes_; }
  int64_t usable_size(uint64_t epoch) const override;
  int64_t target_class(int64_t index) const override;
  int64_t count_with_target(int64_t c, int64_t n) const override;
  int64_t with_target(int64_t c, int64_t j) const override;
  at::Tensor load_image(int64_t index, const ImageRequest& request = {}) const override;
  at::Tensor soft_label(int64_t index) const override;
  const std::string& folder() const override { return options_.cache; }

 private:
  void produce();
  void persist();
  void publish(const SyntheticRecord& record);
  void record_error(std::exception_ptr error);
  void throw_if_failed_locked() const;
  SyntheticRecord record_at(int64_t index) const;

  std::shared_ptr<SampleSource> source_;
  int64_t num_classes_;
  SampleStreamOptions options_;
  std::unique_ptr<SyntheticCacheWriter> writer_;  // used by the writer thread only, once started
  int64_t resumed_from_ = 0;
  BoundedQueue<Sample> queue_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;  // a sample was published, or the stream ended
  std::vector<SyntheticRecord> records_;     // persisted samples, in order
  std::vector<std::vector<int64_t>> by_target_;
  std::optional<Error> error_;
  bool stop_requested_ = false;
  bool stopped_early_ = false;  // the producer ended on stop() or a cancel request, not because it was done
  bool writer_done_ = false;

  std::thread producer_;
  std::thread writer_thread_;
};

}  // namespace dmx::data
