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

// softmax(q·kᵀ / sqrt(head_dim))·v over the last two dimensions: q is [..., Lq, D], k and v are [..., Lk, D].
// LibTorch >= 2.0 runs the fused kernel (flash / memory-efficient on CUDA); older versions compute the same product
// explicitly, with the softmax in float32 so that half-precision inputs do not overflow.
at::Tensor scaled_dot_product_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value);

}  // namespace dmx::compat
