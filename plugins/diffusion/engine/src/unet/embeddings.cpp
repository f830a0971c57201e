#include "diffmix/sd/embeddings.hpp"

#include <cmath>
#include <utility>

namespace dmx::sd {

at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift,
                              double max_period) {
  const int64_t half = dim / 2;
  const auto float_options = timesteps.options().dtype(at::kFloat);
  // Same operation order as diffusers (scale, then divide) so that float32 rounding matches too: at t ~ 1000 one ulp
  // of a frequency is visible in the sine.
  const auto exponent =
      at::arange(half, float_options).mul_(-std::log(max_period)).div_(static_cast<double>(half) - freq_shift);
  const auto angles = timesteps.to(at::kFloat).unsqueeze(1) * exponent.exp().unsqueeze(0);
  auto embedding = flip_sin_to_cos ? at::cat({angles.cos(), angles.sin()}, -1) : at::cat({angles.sin(), angles.cos()}, -1);
  // An odd dimension gets one zero column, as in diffusers.
  if (dim % 2 == 1) embedding = at::constant_pad_nd(embedding, {0, 1});
  return embedding;
}

TimestepEmbedding::TimestepEmbedding(Linear linear_1, Linear linear_2)
    : linear_1_(std::move(linear_1)), linear_2_(std::move(linear_2)) {}

TimestepEmbedding TimestepEmbedding::load(StateDict& weights, const std::string& prefix, int64_t in_channels,
                                          int64_t embedding_dim) {
  return TimestepEmbedding(Linear::load(weights, prefix + ".linear_1", in_channels, embedding_dim, true),
                           Linear::load(weights, prefix + ".linear_2", embedding_dim, embedding_dim, true));
}

at::Tensor TimestepEmbedding::forward(const at::Tensor& features) const {
  return linear_2_.forward(at::silu(linear_1_.forward(features)));
}

}  // namespace dmx::sd
