#include "diffmix/torch_compat.hpp"

#include <ATen/Context.h>

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

}  // namespace dmx::compat
