// SampleRng: randomness that is a pure function of (seed, stream, epoch, index).
//
// The loader's workers run in any order, so no random state may be shared between samples. Each sample gets a fresh
// generator keyed by the run's seed, a stream tag (transforms, mixer, shuffle, ...), the epoch and its index; batches
// are then the same whatever the thread timing, and an epoch resumed at batch b repeats the original exactly.
#pragma once

#include <cstdint>

namespace dmx::data {

// Stream tags keep the decisions of different components independent of each other.
enum class RandomStream : uint64_t { Shuffle = 1, Transform = 2, Mixer = 3, Subset = 4, Corrupt = 5, Synthesis = 6 };

class SampleRng {
 public:
  SampleRng(uint64_t seed, RandomStream stream, uint64_t epoch, uint64_t index)
      : state_(mix(mix(mix(seed ^ 0x9e3779b97f4a7c15ULL) ^ static_cast<uint64_t>(stream)) ^ epoch) ^ index) {}

  // splitmix64: tiny, fast, and good enough for augmentation decisions.
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix(state_);
  }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  // Uniform integer in [0, n); n > 0.
  uint64_t below(uint64_t n) { return static_cast<uint64_t>(uniform() * static_cast<double>(n)) % n; }
  bool bernoulli(double p) { return uniform() < p; }

  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

}  // namespace dmx::data
