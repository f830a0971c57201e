#include "diffmix/torch_compat.hpp"

#include "diffmix/error.hpp"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>

#include <cmath>

namespace dmx::compat {

bool cuda_available() { return at::hasCUDA(); }

at::Tensor scaled_dot_product_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value) {
#if DMX_TORCH_VERSION_AT_LEAST(2, 0)
  return at::scaled_dot_product_attention(query, key, value);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(query.size(-1)));
  const auto scores = at::matmul(query, key.transpose(-1, -2)).mul_(scale);
  const auto weights = at::softmax(scores, -1, at::kFloat).to(value.scalar_type());
  return at::matmul(weights, value);
#endif
}

namespace {

void require_autocast_device(at::DeviceType device_type) {
  if (device_type != at::kCPU && device_type != at::kCUDA) {
    throw dmx::unsupported("autocast: device type '" + c10::DeviceTypeName(device_type) +
                                "' is not supported (expected cpu or cuda)");
  }
}

// LibTorch 2.4 replaced the per-device functions (is_cpu_enabled, set_autocast_gpu_dtype, ...) by ones taking the
// device type and deprecated the old ones.
void set_autocast_enabled(at::DeviceType device_type, bool enabled) {
#if DMX_TORCH_VERSION_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(device_type, enabled);
#else
  if (device_type == at::kCUDA) {
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

void set_autocast_dtype(at::DeviceType device_type, at::ScalarType dtype) {
#if DMX_TORCH_VERSION_AT_LEAST(2, 4)
  at::autocast::set_autocast_dtype(device_type, dtype);
#else
  if (device_type == at::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

}  // namespace

bool autocast_enabled(at::DeviceType device_type) {
  require_autocast_device(device_type);
#if DMX_TORCH_VERSION_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(device_type);
#else
  return device_type == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

at::ScalarType autocast_dtype(at::DeviceType device_type) {
  require_autocast_device(device_type);
#if DMX_TORCH_VERSION_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(device_type);
#else
  return device_type == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

// The same sequence as torch.autocast's __enter__ and __exit__.
AutocastGuard::AutocastGuard(at::DeviceType device_type, at::ScalarType dtype)
    : device_type_(device_type),
      previous_enabled_(autocast_enabled(device_type)),
      previous_dtype_(autocast_dtype(device_type)) {
  set_autocast_enabled(device_type_, true);
  set_autocast_dtype(device_type_, dtype);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(device_type_, previous_enabled_);
  set_autocast_dtype(device_type_, previous_dtype_);
}

}  // namespace dmx::compat
