// An augmenter that does nothing, so that calling it measures only the cost of the call.
#pragma once

#include "diffmix/batch.hpp"

class Passthrough {
 public:
  static constexpr const char* kName = "passthrough";
  static constexpr const char* kDescription = "returns its input unchanged";
  static constexpr const char* kConfigSchema = "[]";
  template <typename Context>
  explicit Passthrough(const Context&) {}
  dmx::Batch apply(const dmx::Batch& batch, uint64_t) { return batch; }
};
