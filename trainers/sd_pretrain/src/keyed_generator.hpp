// A CPU generator that is a pure function of (seed, purpose, index): what step s draws does not depend on what ran
// before it, so a resumed run draws exactly what the uninterrupted one drew.
#pragma once

#include "diffmix/data/sample_rng.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>

#include <cstdint>

namespace dmx::pretrain {

// Purposes keep the streams of different draws apart.
enum class RandomPurpose : uint64_t { TextEncoderInit = 1, VaeInit = 2, UNetInit = 3, VaeStep = 4, UNetStep = 5, Scaling = 6,
                                    DecoderStep = 7 };

inline at::Generator keyed_generator(uint64_t seed, RandomPurpose purpose, uint64_t index = 0) {
  using data::SampleRng;
  const auto key = SampleRng::mix(SampleRng::mix(SampleRng::mix(seed ^ 0x3c6ef372fe94f82bULL) ^
                                                 static_cast<uint64_t>(purpose)) ^ index);
  return at::make_generator<at::CPUGeneratorImpl>(key);
}

}  // namespace dmx::pretrain
