// Ownership of a DLManagedTensor on the host side of the ABI, until it is imported into a tensor or released to a
// plugin: whatever path a call takes, the tensor's deleter runs exactly once.
#pragma once

#include <ATen/ATen.h>
#include <dlpack/dlpack.h>

#include <utility>

#include "diffmix/dlpack.hpp"

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
  // The tensor as an at::Tensor that owns it. Ownership passes only when the import succeeds: a malformed tensor is
  // a dmx::Error and is still freed by this object.
  at::Tensor import() {
    at::Tensor imported = dlpack::import_tensor(tensor);
    release();
    return imported;
  }
};

}  // namespace dmx
