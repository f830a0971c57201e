// The format-specific halves of diffmix/io/image.hpp (one file per library: image_jpeg.cpp, image_png.cpp).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "diffmix/io/image.hpp"

namespace dmx::io {

// A header claiming more pixels than this is treated as corrupt rather than trusted with a giant allocation.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

// Both return uint8 H×W×C with C as stored (JPEG: 1 or 3; PNG: 1, 3 or 4 at 8 bits).
at::Tensor decode_jpeg(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options);
at::Tensor decode_png(const uint8_t* data, size_t size, const std::string& name);

// Throws a shape error naming `name` unless `image` is a non-empty uint8 H×W×C tensor with C in `channels`.
void check_image_tensor(const at::Tensor& image, const std::string& name, const std::vector<int64_t>& channels);

}  // namespace dmx::io
