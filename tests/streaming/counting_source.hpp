// CountingSource: an in-process sample source whose sample k is a 12×10 picture filled with k, for the stream tests.
// Options make it fail, stop the run, refuse to seek or to stream, or run out, at a chosen sample.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diffmix/cancellation.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sample_source.hpp"

namespace dmx::test {

struct CountingOptions {
  int64_t num_classes = 2;
  int64_t limit = 1000;     // next() gives samples [0, limit), then std::nullopt
  int64_t fail_at = -1;     // next() throws a format error instead of making this sample
  int64_t cancel_at = -1;   // making this sample calls dmx::request_cancel() (as Ctrl-C would)
  bool seekable = true;
  bool streams = true;
};

class CountingSource : public SampleSource {
 public:
  explicit CountingSource(CountingOptions options = {}) : options_(options) {}

  void prepare() override { ++prepared; }
  void synthesize(const std::string&, int64_t) override { throw unsupported("counting: paper mode is not tested here"); }
  std::optional<Sample> next() override {
    const int64_t k = next_;
    if (k == options_.fail_at) throw format_error("counting: sample " + std::to_string(k) + " is broken");
    if (k >= options_.limit) return std::nullopt;
    if (k == options_.cancel_at) request_cancel();
    ++next_;
    return make(k);
  }
  bool can_stream() const override { return options_.streams; }
  bool can_seek() const override { return options_.seekable; }
  void seek(int64_t index) override {
    if (!options_.seekable) throw unsupported("counting: cannot seek");
    seeks.push_back(index);
    next_ = index;
  }
  const std::string& name() const override { return name_; }

  // Sample k as next() makes it.
  Sample make(int64_t k) const {
    Sample sample;
    sample.image = at::full({12, 10, 3}, k % 256, at::kByte);
    sample.target_class = static_cast<int32_t>(k % options_.num_classes);
    sample.source_class = static_cast<int32_t>((k + 1) % options_.num_classes);
    sample.strength = 0.5f;
    sample.seed = static_cast<uint64_t>(k);
    sample.soft_label = at::zeros({options_.num_classes}, at::kFloat);
    return sample;
  }

  // Read after the stream has stopped (its producer thread is joined).
  int prepared = 0;
  std::vector<int64_t> seeks;

 private:
  CountingOptions options_;
  int64_t next_ = 0;
  std::string name_ = "counting";
};

}  // namespace dmx::test
