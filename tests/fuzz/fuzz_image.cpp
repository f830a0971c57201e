// PNG and JPEG decoding (libpng, libjpeg-turbo) behind decode_image, which picks the codec from the magic bytes.
#include "diffmix/io/image.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dmx::fuzz::expect_clean_failure([&] { (void)dmx::io::decode_image(data, size, "fuzz-input"); });
  return 0;
}
