// Image conversions around the VAE, as diffusers' VaeImageProcessor: pixels in [0, 1] go in as [-1, 1], decoded
// images come out clamped to [0, 1], and uint8 images convert with the rounding PIL uses.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace dmx::sd {

// uint8 H×W×3 (one image) or N×H×W×3 -> float32 N×3×H×W in [0, 1] (x / 255).
at::Tensor images_from_uint8(const at::Tensor& images);

// float N×3×H×W in [0, 1] -> the VAE's input range [-1, 1] (2x - 1). A shape error names what was expected.
at::Tensor normalize_images(const at::Tensor& images);

// The VAE decoder's output N×3×H×W -> float32 N×H×W×3 in [0, 1]: clamp(x / 2 + 0.5, 0, 1), channels last.
at::Tensor postprocess_images(const at::Tensor& decoded);

// float N×H×W×3 in [0, 1] -> uint8 N×H×W×3: round(x × 255).
at::Tensor images_to_uint8(const at::Tensor& images);

// Resizes float N×3×H×W images (bilinear, corners not aligned, antialiased when shrinking) to height × width.
at::Tensor resize_images(const at::Tensor& images, int64_t height, int64_t width);

}  // namespace dmx::sd
