// Every difference between the LibTorch versions diffmix builds against (Debian's 1.13 CPU build and 2.x with CUDA)
// is handled here and nowhere else.
#pragma once

#include <ATen/ATen.h>
#include <torch/version.h>

#define DMX_TORCH_VERSION_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace dmx::compat {

// True when this build of LibTorch can place tensors on a CUDA device.
bool cuda_available();

}  // namespace dmx::compat
