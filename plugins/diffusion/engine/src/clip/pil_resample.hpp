// Image resizing that gives the same uint8 pixels as Pillow's Image.resize (which transformers' image processors
// call): separable convolution with the filter widened by the downscale factor (antialiasing), coefficients in
// 22-bit fixed point, a horizontal pass then a vertical pass, each rounded and clipped to uint8.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace dmx::sd {

enum class PilFilter { Bilinear, Bicubic };

// `image`: contiguous uint8 [H, W, C]. Returns uint8 [height, width, C].
at::Tensor pil_resize(const at::Tensor& image, int64_t height, int64_t width, PilFilter filter);

}  // namespace dmx::sd
