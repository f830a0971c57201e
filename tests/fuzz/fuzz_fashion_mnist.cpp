// The Fashion-MNIST IDX reader: images and labels files (plain or gzipped), separated by a "====" line.
#include "diffmix/data/datasets.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = dmx::fuzz::split_parts(data, size, 2);
  dmx::fuzz::write_scratch_file("fashion-mnist/train-images-idx3-ubyte.gz", parts[0]);
  dmx::fuzz::write_scratch_file("fashion-mnist/train-labels-idx1-ubyte.gz", parts[1]);
  dmx::fuzz::expect_clean_failure([&] {
    const auto dataset = dmx::data::open_fashion_mnist(dmx::fuzz::scratch_folder() + "/fashion-mnist", "train");
    for (int64_t i = 0; i < dataset->size() && i < 4; ++i) {
      (void)dataset->label(i);
      (void)dataset->load_image(i);
      (void)dataset->describe(i);
    }
  });
  return 0;
}
