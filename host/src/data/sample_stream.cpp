#include "diffmix/data/sample_stream.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "diffmix/cancellation.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/progress.hpp"
#include "manifest_format.hpp"

namespace dmx::data {
namespace {

// How often a synchronous wait looks at the cancellation flag while the producer is busy with one sample.
constexpr std::chrono::milliseconds kCancelPoll{100};

void check_options(const SampleStreamOptions& options, const std::string& source) {
  const std::string where = "streaming from '" + source + "': ";
  if (options.cache.empty()) throw invalid_argument(where + "no cache folder to persist the samples in");
  if (options.total <= 0) throw invalid_argument(where + "total must be > 0, got " + std::to_string(options.total));
  if (options.queue <= 0) throw invalid_argument(where + "queue must be > 0, got " + std::to_string(options.queue));
  if (options.synchronous && options.per_epoch <= 0)
    throw invalid_argument(where + "a synchronous stream needs per_epoch > 0, got " + std::to_string(options.per_epoch));
}

// The manifest record of a streamed sample. A sample without a reference image (txt2img, source_class −1) is
// labelled with its target class alone.
// The strength crosses the ABI as a float (0.7f is 0.699999988...); the shortest decimal that reads back as the
// same float is what the source meant, and what the manifest records, as paper mode does.
double as_decimal(float value) { return std::stod(fmt::format("{}", value)); }

SyntheticRecord record_of(const Sample& sample, int64_t index, int64_t num_classes, const std::string& source) {
  const std::string where = "sample source '" + source + "': streamed sample " + std::to_string(index);
  const std::string range = " outside [0, " + std::to_string(num_classes) + ")";
  if (sample.target_class < 0 || sample.target_class >= num_classes)
    throw plugin_error(where + " has target_class " + std::to_string(sample.target_class) + range);
  if (sample.source_class >= num_classes)
    throw plugin_error(where + " has source_class " + std::to_string(sample.source_class) + range);
  if (!sample.image.defined() || sample.image.dim() != 3 || sample.image.scalar_type() != at::kByte)
    throw plugin_error(where + ": its image is not a uint8 H×W×C tensor");
  SyntheticRecord record;
  record.target_class = sample.target_class;
  record.source_class = sample.source_class < 0 ? sample.target_class : sample.source_class;
  record.strength = sample.source_class < 0 ? 1.0 : as_decimal(sample.strength);
  record.seed = sample.seed;
  return record;
}

}  // namespace

SampleStream::SampleStream(std::shared_ptr<SampleSource> source, int64_t num_classes,
                           const SampleStreamOptions& options)
    : source_(std::move(source)),
      num_classes_(num_classes),
      options_(options),
      queue_(static_cast<size_t>(std::max<int64_t>(options.queue, 1))) {
  if (!source_) throw invalid_argument("SampleStream: no sample source");
  check_options(options_, source_->name());
  if (!source_->can_stream())
    throw unsupported("sample source '" + source_->name() + "' cannot stream (it offers paper mode only): fill a " +
                      "cache with `diffmix synthesize` and train on it with [synthetic] cache = \"...\"");
  if (num_classes_ <= 0) throw invalid_argument("SampleStream: num_classes must be > 0");

  writer_ = std::make_unique<SyntheticCacheWriter>(options_.cache, ".png", options_.made_by);
  resumed_from_ = writer_->size();
  if (resumed_from_ > 0 && resumed_from_ < options_.total && !source_->can_seek())
    throw unsupported("sample source '" + source_->name() + "' cannot seek, so the stream cannot resume after the " +
                      std::to_string(resumed_from_) + " samples already in " + options_.cache +
                      ": delete that folder to start the stream over");
  by_target_.resize(static_cast<size_t>(num_classes_));
  for (const SyntheticRecord& record : writer_->records()) {
    check_record(record, num_classes_, options_.cache + ": sample " + std::to_string(records_.size()));
    publish(record);
  }
  if (resumed_from_ >= options_.total)
    spdlog::info("{}: all {} samples are in {} already", source_->name(), options_.total, options_.cache);
  else
    spdlog::info("{}: streaming up to {} samples into {} ({} there already{})", source_->name(), options_.total,
                 options_.cache, resumed_from_, options_.synchronous ? "; synchronous" : "");
  writer_thread_ = std::thread([this] { persist(); });
  producer_ = std::thread([this] { produce(); });
}

SampleStream::~SampleStream() { stop(); }

void SampleStream::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
  }
  queue_.close();  // wakes a producer waiting on a full queue; the writer still drains it
  if (producer_.joinable()) producer_.join();
  if (writer_thread_.joinable()) writer_thread_.join();
}

void SampleStream::produce() {
  bool early = false;
  try {
    int64_t made = resumed_from_;
    if (made < options_.total) {
      source_->prepare();
      if (made > 0) source_->seek(made);
    }
    for (; made < options_.total; ++made) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        early = stop_requested_ || cancel_requested();
      }
      if (early) break;
      std::optional<Sample> sample = source_->next();
      if (!sample) break;  // the source has nothing more to give
      if (!queue_.push(std::move(*sample))) {
        early = true;
        break;
      }
    }
  } catch (...) {
    record_error(std::current_exception());
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopped_early_ = early;
  }
  queue_.close();
}

void SampleStream::persist() {
  // A stream whose samples are all on disk already reports nothing: there is no work to show.
  std::optional<Progress> progress;
  if (resumed_from_ < options_.total)
    progress.emplace("stream " + source_->name(), static_cast<uint64_t>(options_.total), "sample");
  try {
    while (std::optional<Sample> sample = queue_.pop()) {
      // The clock starts with the first sample, so that the rate leaves out the source's prepare (model loading,
      // fine-tuning), which has its own progress.
      if (progress && writer_->size() == resumed_from_)
        progress->set(static_cast<uint64_t>(resumed_from_));
      const int64_t index = writer_->size();
      const SyntheticRecord& record = writer_->add(sample->image, record_of(*sample, index, num_classes_, source_->name()));
      publish(record);
      if (progress) progress->advance();
    }
    if (progress) progress->finish();
  } catch (...) {
    record_error(std::current_exception());
    queue_.close();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    writer_done_ = true;
  }
  changed_.notify_all();
}

void SampleStream::publish(const SyntheticRecord& record) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    by_target_[static_cast<size_t>(record.target_class)].push_back(static_cast<int64_t>(records_.size()));
    records_.push_back(record);
  }
  changed_.notify_all();
}

// Keeps the first error as a dmx::Error: the plugin's own (its category and message), or anything else as internal.
void SampleStream::record_error(std::exception_ptr error) {
  std::optional<Error> kept;
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    kept = e;
  } catch (const std::exception& e) {
    kept = internal_error("streaming from '" + source_->name() + "': " + e.what());
  } catch (...) {
    kept = internal_error("streaming from '" + source_->name() + "': unknown exception");
  }
  spdlog::error("{}: streaming stopped: {}", source_->name(), kept->what());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::move(kept);
    stop_requested_ = true;
  }
  changed_.notify_all();
}

void SampleStream::throw_if_failed_locked() const {
  if (error_) throw Error(*error_);
}

void SampleStream::rethrow_if_failed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  throw_if_failed_locked();
}

int64_t SampleStream::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(records_.size());
}

bool SampleStream::ended() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return writer_done_;
}

int64_t SampleStream::wait_for(int64_t n) const {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return error_ || writer_done_ || static_cast<int64_t>(records_.size()) >= n; });
  throw_if_failed_locked();
  return static_cast<int64_t>(records_.size());
}

int64_t SampleStream::scheduled_size(uint64_t epoch) const {
  const auto per_epoch = static_cast<uint64_t>(std::max<int64_t>(options_.per_epoch, 1));
  const auto total = static_cast<uint64_t>(options_.total);
  if (epoch >= total / per_epoch + 1) return options_.total;  // also keeps epoch·per_epoch from overflowing
  return static_cast<int64_t>(std::min(total, epoch * per_epoch));
}

int64_t SampleStream::usable_size(uint64_t epoch) const {
  std::unique_lock<std::mutex> lock(mutex_);
  throw_if_failed_locked();
  if (!options_.synchronous) return static_cast<int64_t>(records_.size());

  const int64_t wanted = scheduled_size(epoch);
  while (static_cast<int64_t>(records_.size()) < wanted && !writer_done_) {
    changed_.wait_for(lock, kCancelPoll);
    throw_if_failed_locked();
    if (cancel_requested())
      throw cancelled("waiting for sample " + std::to_string(wanted) + " of '" + source_->name() +
                      "' (synchronous stream) interrupted");
  }
  throw_if_failed_locked();
  const auto have = static_cast<int64_t>(records_.size());
  if (have >= wanted) return wanted;
  if (stopped_early_)
    throw cancelled("the stream from '" + source_->name() + "' stopped with " + std::to_string(have) + " of the " +
                    std::to_string(wanted) + " samples epoch " + std::to_string(epoch + 1) + " uses");
  return have;  // the source ran out before `wanted`: the same in every run
}

SyntheticRecord SampleStream::record_at(int64_t index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (index < 0 || index >= static_cast<int64_t>(records_.size()))
    throw invalid_argument(options_.cache + ": streamed sample " + std::to_string(index) + " outside [0, " +
                           std::to_string(records_.size()) + ")");
  return records_[static_cast<size_t>(index)];
}

int64_t SampleStream::target_class(int64_t index) const { return record_at(index).target_class; }

int64_t SampleStream::count_with_target(int64_t c, int64_t n) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto& indices = by_target_.at(static_cast<size_t>(c));
  return std::lower_bound(indices.begin(), indices.end(), n) - indices.begin();
}

int64_t SampleStream::with_target(int64_t c, int64_t j) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_target_.at(static_cast<size_t>(c)).at(static_cast<size_t>(j));
}

at::Tensor SampleStream::load_image(int64_t index, const ImageRequest& request) const {
  const SyntheticRecord record = record_at(index);
  io::DecodeOptions options;
  options.channels = request.channels;
  options.min_size = request.min_size;
  return io::read_image(options_.cache + "/" + record.path, options);
}

at::Tensor SampleStream::soft_label(int64_t index) const {
  const SyntheticRecord record = record_at(index);
  if (!record.soft_label.empty()) return at::tensor(record.soft_label, at::kFloat);
  return diffmix_soft_label(record.source_class, record.target_class, record.strength, num_classes_, options_.gamma);
}

}  // namespace dmx::data
