#include "pil_resample.hpp"

#include "diffmix/error.hpp"

#include <cmath>
#include <vector>

namespace dmx::sd {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double bilinear(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// For each output index: the first input index, the number of taps, and fixed-point weights.
struct Taps {
  int64_t ksize = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;  // [out, ksize]
};

Taps precompute(int64_t in_size, int64_t out_size, PilFilter filter) {
  const double support_1 = filter == PilFilter::Bicubic ? 2.0 : 1.0;
  const auto kernel = filter == PilFilter::Bicubic ? bicubic : bilinear;
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = scale < 1.0 ? 1.0 : scale;
  const double support = support_1 * filter_scale;
  const double inverse_scale = 1.0 / filter_scale;  // multiplied, not divided, to round exactly as Pillow does

  Taps taps;
  taps.ksize = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(out_size * taps.ksize, 0);
  std::vector<double> w(taps.ksize);
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    // Truncation toward zero, as C's (int) cast in Pillow.
    int64_t xmin = static_cast<int64_t>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int64_t xmax = static_cast<int64_t>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      w[x] = kernel((static_cast<double>(x + xmin) - center + 0.5) * inverse_scale);
      total += w[x];
    }
    for (int64_t x = 0; x < xmax; ++x) {
      const double normalized = total != 0.0 ? w[x] / total : w[x];
      const double fixed = normalized * static_cast<double>(1 << kPrecisionBits);
      taps.weights[xx * taps.ksize + x] = static_cast<int32_t>(normalized < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    taps.first[xx] = xmin;
    taps.count[xx] = xmax;
  }
  return taps;
}

uint8_t clip8(int64_t value) {
  if (value >= (int64_t{1} << kPrecisionBits << 8)) return 255;
  if (value <= 0) return 0;
  return static_cast<uint8_t>(value >> kPrecisionBits);
}

// Resamples along one axis of a [rows, cols, channels] uint8 buffer: `along_rows` resamples the row index.
std::vector<uint8_t> resample_axis(const std::vector<uint8_t>& in, int64_t rows, int64_t cols, int64_t channels,
                                   bool along_rows, int64_t out_size, PilFilter filter) {
  const auto taps = precompute(along_rows ? rows : cols, out_size, filter);
  const int64_t out_rows = along_rows ? out_size : rows;
  const int64_t out_cols = along_rows ? cols : out_size;
  std::vector<uint8_t> out(out_rows * out_cols * channels);
  for (int64_t r = 0; r < out_rows; ++r) {
    for (int64_t c = 0; c < out_cols; ++c) {
      const int64_t o = along_rows ? r : c;
      const int32_t* k = &taps.weights[o * taps.ksize];
      for (int64_t ch = 0; ch < channels; ++ch) {
        int64_t sum = int64_t{1} << (kPrecisionBits - 1);
        for (int64_t t = 0; t < taps.count[o]; ++t) {
          const int64_t src_r = along_rows ? taps.first[o] + t : r;
          const int64_t src_c = along_rows ? c : taps.first[o] + t;
          sum += static_cast<int64_t>(in[(src_r * cols + src_c) * channels + ch]) * k[t];
        }
        out[(r * out_cols + c) * channels + ch] = clip8(sum);
      }
    }
  }
  return out;
}

}  // namespace

at::Tensor pil_resize(const at::Tensor& image, int64_t height, int64_t width, PilFilter filter) {
  if (image.dim() != 3 || image.scalar_type() != at::kByte) {
    throw dmx::shape_error("resize: expected a uint8 [H, W, C] image, got " +
                           std::string(c10::toString(image.scalar_type())) + " " + c10::str(image.sizes()));
  }
  if (height <= 0 || width <= 0) {
    throw dmx::invalid_argument("resize: target size " + std::to_string(height) + "x" + std::to_string(width) +
                                " must be positive");
  }
  const auto source = image.to(at::kCPU).contiguous();
  int64_t rows = source.size(0), cols = source.size(1);
  const int64_t channels = source.size(2);
  std::vector<uint8_t> pixels(source.data_ptr<uint8_t>(), source.data_ptr<uint8_t>() + source.numel());
  // Pillow runs the horizontal pass first and skips a pass whose size does not change.
  if (width != cols) {
    pixels = resample_axis(pixels, rows, cols, channels, false, width, filter);
    cols = width;
  }
  if (height != rows) {
    pixels = resample_axis(pixels, rows, cols, channels, true, height, filter);
    rows = height;
  }
  auto out = at::empty({rows, cols, channels}, at::kByte);
  std::copy(pixels.begin(), pixels.end(), out.data_ptr<uint8_t>());
  return out;
}

}  // namespace dmx::sd
