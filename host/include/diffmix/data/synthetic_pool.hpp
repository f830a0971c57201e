// SyntheticPool: the synthetic samples a Mixer draws from.
//
// Two kinds exist: a SyntheticCache (a finished folder, fixed size) and a SampleStream (samples a sample source
// makes while training runs, persisted as they arrive). Sample i never changes once it exists and a pool only grows,
// so "the first n samples" names one fixed set: the Mixer's choice is a pure function of (seed, epoch, index, n).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "diffmix/data/dataset.hpp"

namespace dmx::data {

class SyntheticPool {
 public:
  virtual ~SyntheticPool() = default;

  virtual int64_t num_classes() const = 0;
  // How many samples (always the first ones) the draws of `epoch` may use. A cache: all of them. A stream: those
  // persisted so far, or, when synchronous, a number fixed by the epoch that it waits for. May throw the stream's
  // error (its producer failed) or dmx::cancelled.
  virtual int64_t usable_size(uint64_t epoch) const = 0;
  // Target class of sample `index`.
  virtual int64_t target_class(int64_t index) const = 0;
  // How many of the first `n` samples have target class `c`, and the j-th of them (j < that count): what SYNAuG
  // balancing draws from.
  virtual int64_t count_with_target(int64_t c, int64_t n) const = 0;
  virtual int64_t with_target(int64_t c, int64_t j) const = 0;
  virtual at::Tensor load_image(int64_t index, const ImageRequest& request = {}) const = 0;
  // K floats.
  virtual at::Tensor soft_label(int64_t index) const = 0;
  // The folder, for messages.
  virtual const std::string& folder() const = 0;
};

}  // namespace dmx::data
