// Ownership of a DLManagedTensor on the host side of the ABI, until it is imported into a tensor or released to a
// plugin: whatever path a call takes, the tensor's deleter runs exactly once.
#pragma once

#include <dlpack/dlpack.h>

#include <utility>

namespace dmx {

struct ManagedTensor {
  DLManagedTensor* tensor = nullptr;

  explicit ManagedTensor(DLManagedTensor* owned = nullptr) : tensor(owned) {}
  ManagedTensor(const ManagedTensor&) = delete;
  ManagedTensor& operator=(const ManagedTensor&) = delete;
  ~ManagedTensor() {
    if (tensor && tensor->deleter) tensor->deleter(tensor);
  }
  DLManagedTensor* release() { return std::exchange(tensor, nullptr); }
};

}  // namespace dmx
