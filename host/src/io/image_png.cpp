// PNG through libpng's simplified API (png_image), which handles palettes, 16-bit samples and transparency and is
// thread-safe per call.
#include <png.h>

#include "diffmix/error.hpp"
#include "image_codecs.hpp"

namespace dmx::io {

at::Tensor decode_png(const uint8_t* data, size_t size, const std::string& name) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, data, size))
    throw format_error(name + ": corrupt PNG header: " + png.message);

  if (png.width == 0 || png.height == 0 || int64_t{png.width} * png.height > kMaxImagePixels) {
    png_image_free(&png);
    throw format_error(name + ": PNG header gives an implausible size " + std::to_string(png.width) + "x" +
                       std::to_string(png.height));
  }
  // Keep gray as gray and drop nothing but what has no meaning here: alpha stays (convert_channels drops it).
  const bool color = (png.format & PNG_FORMAT_FLAG_COLOR) != 0;
  const bool alpha = (png.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  png.format = color ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB) : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
  const int64_t channels = PNG_IMAGE_SAMPLE_CHANNELS(png.format);
  at::Tensor image = at::empty({static_cast<int64_t>(png.height), static_cast<int64_t>(png.width), channels}, at::kByte);
  if (!png_image_finish_read(&png, nullptr, image.data_ptr<uint8_t>(), 0, nullptr)) {
    const std::string message = png.message;
    png_image_free(&png);
    throw format_error(name + ": corrupt PNG data: " + message);
  }
  // Gray + alpha: keep the gray plane.
  if (channels == 2) return image.narrow(2, 0, 1).contiguous();
  return image;
}

std::vector<uint8_t> encode_png(const at::Tensor& image, const std::string& name) {
  check_image_tensor(image, name, {1, 3, 4});
  const at::Tensor pixels = image.contiguous();
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(pixels.size(1));
  png.height = static_cast<png_uint_32>(pixels.size(0));
  const int64_t channels = pixels.size(2);
  png.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;

  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&png, nullptr, &size, 0, pixels.data_ptr<uint8_t>(), 0, nullptr))
    throw internal_error(name + ": PNG encoding failed: " + png.message);
  std::vector<uint8_t> bytes(size);
  if (!png_image_write_to_memory(&png, bytes.data(), &size, 0, pixels.data_ptr<uint8_t>(), 0, nullptr))
    throw internal_error(name + ": PNG encoding failed: " + png.message);
  bytes.resize(size);
  return bytes;
}

}  // namespace dmx::io
