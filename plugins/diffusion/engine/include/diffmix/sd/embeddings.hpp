// The UNet's timestep conditioning, as diffusers' embeddings.py: a sinusoidal projection of the timestep
// (Timesteps / get_timestep_embedding) followed by a two-layer MLP (TimestepEmbedding).
#pragma once

#include "diffmix/sd/layers.hpp"
#include "diffmix/sd/state_dict.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace dmx::sd {

// Sinusoidal features of 1-D timesteps [B] (any numeric dtype; computed in float32): [B, dim].
// Frequencies exp(-ln(max_period) * i / (dim/2 - freq_shift)); [sin | cos], or [cos | sin] when flip_sin_to_cos.
at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift,
                              double max_period = 10000.0);

// linear_1 -> SiLU -> linear_2: maps the sinusoidal features to the embedding every ResnetBlock2D adds.
class TimestepEmbedding {
 public:
  static TimestepEmbedding load(StateDict& weights, const std::string& prefix, int64_t in_channels,
                                int64_t embedding_dim);
  at::Tensor forward(const at::Tensor& features) const;

 private:
  TimestepEmbedding(Linear linear_1, Linear linear_2);
  Linear linear_1_;
  Linear linear_2_;
};

}  // namespace dmx::sd
