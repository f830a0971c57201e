// JPEG through libjpeg-turbo's TurboJPEG API, with DCT-domain downscaling: decoding a 500×375 CUB photo at 1/2 scale
// for a 224-px model costs about a third of a full decode, and the following resize has less to average.
#include <turbojpeg.h>

#include <memory>

#include "diffmix/error.hpp"
#include "image_codecs.hpp"

namespace dmx::io {
namespace {

struct HandleCloser {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TurboHandle = std::unique_ptr<void, HandleCloser>;

// TurboJPEG handles are not thread-safe but are reusable; one per thread avoids an allocation per image. After a
// failed decode a handle can keep stale state (the next header read then fails on a good file), so errors drop it.
TurboHandle& thread_decompressor() {
  thread_local TurboHandle handle;
  return handle;
}

tjhandle decompressor() {
  TurboHandle& handle = thread_decompressor();
  if (!handle) handle.reset(tjInitDecompress());
  if (!handle) throw internal_error(std::string("cannot create a TurboJPEG decompressor: ") + tjGetErrorStr2(nullptr));
  return handle.get();
}

[[noreturn]] void fail_decoding(const std::string& message) {
  thread_decompressor().reset();
  throw format_error(message);
}

tjhandle compressor() {
  thread_local TurboHandle handle(tjInitCompress());
  if (!handle) throw internal_error(std::string("cannot create a TurboJPEG compressor: ") + tjGetErrorStr2(nullptr));
  return handle.get();
}

// The smallest DCT scale (n/8 factors that libjpeg-turbo offers) that keeps both sides >= min_size.
tjscalingfactor choose_scale(int width, int height, int64_t min_size) {
  tjscalingfactor best{1, 1};
  if (min_size <= 0) return best;
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  for (int i = 0; i < count; ++i) {
    const tjscalingfactor f = factors[i];
    if (f.num * best.denom >= best.num * f.denom) continue;  // not smaller than the best so far
    if (TJSCALED(width, f) >= min_size && TJSCALED(height, f) >= min_size) best = f;
  }
  return best;
}

// libjpeg reports damage it can paper over as warnings. A truncated file is decoded with gray filling the missing
// part, which would silently train on a broken image, so that warning is treated as corruption; others (extraneous
// bytes between markers, common in camera files) are harmless.
bool is_fatal_warning(const std::string& message) { return message.find("Premature end") != std::string::npos; }

}  // namespace

at::Tensor decode_jpeg(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  tjhandle handle = decompressor();
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle, data, static_cast<unsigned long>(size), &width, &height, &subsampling,
                          &colorspace) != 0)
    fail_decoding(name + ": corrupt JPEG header: " + tjGetErrorStr2(handle));
  if (width <= 0 || height <= 0 || int64_t{width} * height > kMaxImagePixels)
    fail_decoding(name + ": JPEG header gives an implausible size " + std::to_string(width) + "x" +
                       std::to_string(height));

  const tjscalingfactor scale = choose_scale(width, height, options.min_size);
  const int out_width = TJSCALED(width, scale);
  const int out_height = TJSCALED(height, scale);
  const bool gray = colorspace == TJCS_GRAY;
  const int channels = gray ? 1 : 3;
  at::Tensor image = at::empty({out_height, out_width, channels}, at::kByte);
  if (tjDecompress2(handle, data, static_cast<unsigned long>(size), image.data_ptr<uint8_t>(), out_width,
                    out_width * channels, out_height, gray ? TJPF_GRAY : TJPF_RGB, TJFLAG_FASTDCT) != 0) {
    const std::string message = tjGetErrorStr2(handle);
    if (tjGetErrorCode(handle) != TJERR_WARNING || is_fatal_warning(message))
      fail_decoding(name + ": corrupt JPEG data: " + message);
    thread_decompressor().reset();  // a tolerated warning: start the next image with a clean handle too
  }
  return image;
}

std::vector<uint8_t> encode_jpeg(const at::Tensor& image, int quality, const std::string& name) {
  check_image_tensor(image, name, {1, 3});
  if (quality < 1 || quality > 100)
    throw invalid_argument(name + ": JPEG quality " + std::to_string(quality) + " outside [1, 100]");
  const at::Tensor pixels = image.contiguous();
  const int height = static_cast<int>(pixels.size(0));
  const int width = static_cast<int>(pixels.size(1));
  const bool gray = pixels.size(2) == 1;
  tjhandle handle = compressor();
  unsigned char* buffer = nullptr;
  unsigned long buffer_size = 0;
  if (tjCompress2(handle, pixels.data_ptr<uint8_t>(), width, 0, height, gray ? TJPF_GRAY : TJPF_RGB, &buffer,
                  &buffer_size, gray ? TJSAMP_GRAY : TJSAMP_420, quality, TJFLAG_ACCURATEDCT) != 0) {
    const std::string message = tjGetErrorStr2(handle);
    tjFree(buffer);
    throw internal_error(name + ": JPEG encoding failed: " + message);
  }
  std::vector<uint8_t> bytes(buffer, buffer + buffer_size);
  tjFree(buffer);
  return bytes;
}

}  // namespace dmx::io
