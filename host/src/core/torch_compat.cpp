#include "diffmix/torch_compat.hpp"

#include "diffmix/error.hpp"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <vector>

#include <cmath>

namespace dmx::compat {

bool cuda_available() { return at::hasCUDA(); }

#if !DMX_TORCH_VERSION_AT_LEAST(2, 0)
namespace {

// softmax(q·kᵀ·scale)·v written out: the scores of every query against every key at once.
at::Tensor attention_in_full(const at::Tensor& query, const at::Tensor& key_t, const at::Tensor& value,
                             double scale) {
  const auto scores = at::matmul(query, key_t).mul_(scale);
  return at::matmul(at::softmax(scores, -1, at::kFloat).to(value.scalar_type()), value);
}

// About 8 MB of float scores per block of queries: small enough to stay in cache between the product, the softmax
// and the product with v. At SD's 64×64 latents the full score matrix of one self-attention is 2·8·4096² floats
// (1 GiB), and writing and reading it back cost more than the arithmetic.
constexpr int64_t kScoreElementsPerBlock = int64_t{1} << 21;

}  // namespace
#endif

at::Tensor scaled_dot_product_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value) {
#if DMX_TORCH_VERSION_AT_LEAST(2, 0)
  return at::scaled_dot_product_attention(query, key, value);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(query.size(-1)));
  const int64_t queries = query.size(-2), keys = key.size(-2);
  const int64_t matrices = queries > 0 ? query.numel() / (queries * query.size(-1)) : 0;  // batch × heads
  const int64_t per_matrix = queries * keys;
  // Training keeps the whole product: autograd would store every block's scores anyway.
  if (matrices * per_matrix <= kScoreElementsPerBlock || at::GradMode::is_enabled())
    return attention_in_full(query, key.transpose(-1, -2), value, scale);
  // Each query's row of scores, its softmax and its weighted sum of v do not depend on the other queries, so
  // computing them a block at a time gives the same numbers (to rounding) without the whole score matrix. A block is
  // several whole matrices when one matrix's scores fit (a ViT's 197 tokens), else rows of one matrix (SD's 4096).
  const int64_t block_matrices = std::max<int64_t>(1, kScoreElementsPerBlock / per_matrix);
  const int64_t block_rows = block_matrices > 1 ? queries : std::max<int64_t>(1, kScoreElementsPerBlock / keys);
  // The operands laid out once as [matrices, rows, dim]; kᵀ as a transposed view, which bmm reads in place.
  const auto q = query.reshape({matrices, queries, query.size(-1)}).contiguous();
  const auto k_t = key.reshape({matrices, keys, key.size(-1)}).contiguous().transpose(1, 2);
  const auto v = value.reshape({matrices, keys, value.size(-1)}).contiguous();
  const auto out = at::empty({matrices, queries, value.size(-1)}, value.options());
  for (int64_t m = 0; m < matrices; m += block_matrices) {
    const int64_t m_count = std::min(block_matrices, matrices - m);
    const auto k_block = k_t.narrow(0, m, m_count), v_block = v.narrow(0, m, m_count);
    for (int64_t start = 0; start < queries; start += block_rows) {
      const int64_t count = std::min(block_rows, queries - start);
      const auto scores = at::bmm(q.narrow(0, m, m_count).narrow(1, start, count), k_block).mul_(scale);
      const auto weights = at::softmax(scores, -1, at::kFloat).to(value.scalar_type());
      out.narrow(0, m, m_count).narrow(1, start, count).copy_(at::bmm(weights, v_block));
    }
  }
  std::vector<int64_t> shape = query.sizes().vec();
  shape.back() = value.size(-1);
  return out.view(shape);
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
