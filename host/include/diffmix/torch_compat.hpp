// Every difference between the LibTorch versions diffmix builds against (Debian's 1.13 CPU build and 2.x with CUDA)
// is handled here and nowhere else.
#pragma once

#include <ATen/ATen.h>
#include <torch/version.h>

#define DMX_TORCH_VERSION_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace c10d {
class ProcessGroup;
class Backend;
}  // namespace c10d

namespace dmx::compat {

// The c10d class a Gloo or NCCL process group derives from: LibTorch 2.0 split the backends (ProcessGroupGloo,
// ProcessGroupNCCL) from the ProcessGroup that dispatches to them; their collectives kept the same signatures.
#if DMX_TORCH_VERSION_AT_LEAST(2, 0)
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

// True when this build of LibTorch can place tensors on a CUDA device.
bool cuda_available();

// softmax(q·kᵀ / sqrt(head_dim))·v over the last two dimensions: q is [..., Lq, D], k and v are [..., Lk, D].
// LibTorch >= 2.0 runs the fused kernel (flash / memory-efficient on CUDA); older versions compute the same product
// explicitly, with the softmax in float32 so that half-precision inputs do not overflow.
at::Tensor scaled_dot_product_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value);

// Runs the enclosed operations under automatic mixed precision for one device type, like Python's
// `with torch.autocast(device_type, dtype):` — matmuls and convolutions compute in `dtype`, precision-sensitive ops
// (softmax, losses, reductions) stay in float32. The previous state of that device type is restored on exit, so guards
// nest; the cache of casted weights is cleared when the outermost guard exits (the weights may change before the next
// forward pass). Only CPU and CUDA are supported (an Unsupported error otherwise); LibTorch 1.13's CPU autocast
// computes in bfloat16 only.
class AutocastGuard {
 public:
  AutocastGuard(at::DeviceType device_type, at::ScalarType dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  at::DeviceType device_type_;
  bool previous_enabled_;
  at::ScalarType previous_dtype_;
};

// Whether autocast is on for `device_type` in this thread, and the dtype it computes in.
bool autocast_enabled(at::DeviceType device_type);
at::ScalarType autocast_dtype(at::DeviceType device_type);

}  // namespace dmx::compat
