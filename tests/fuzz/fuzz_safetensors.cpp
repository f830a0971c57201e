// safetensors files: the JSON header, dtypes, shapes and data offsets; then the LoRA reader on the same file.
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/lora.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path =
      dmx::fuzz::write_scratch_file("model.safetensors", {reinterpret_cast<const char*>(data), size});
  dmx::fuzz::expect_clean_failure([&] {
    const auto file = dmx::io::SafetensorsFile::open(path);
    for (const auto& name : file.names()) {
      (void)file.dtype(name);
      (void)file.shape(name);
      (void)file.tensor(name);
    }
    (void)file.metadata();
  });
  dmx::fuzz::expect_clean_failure([&] { (void)dmx::sd::LoraWeights::load(path); });
  return 0;
}
