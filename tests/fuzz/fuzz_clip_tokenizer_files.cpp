// A CLIP tokenizer folder: vocab.json, merges.txt, tokenizer_config.json and a prompt to encode with it, in that
// order, separated by "====" lines.
#include "diffmix/sd/clip_tokenizer.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = dmx::fuzz::split_parts(data, size, 4);
  dmx::fuzz::write_scratch_file("tokenizer/vocab.json", parts[0]);
  dmx::fuzz::write_scratch_file("tokenizer/merges.txt", parts[1]);
  const std::string config = dmx::fuzz::scratch_folder() + "/tokenizer/tokenizer_config.json";
  if (parts[2].empty()) {
    std::remove(config.c_str());  // the file is optional: test both ways
  } else {
    dmx::fuzz::write_scratch_file("tokenizer/tokenizer_config.json", parts[2]);
  }
  dmx::fuzz::expect_clean_failure([&] {
    const auto tokenizer = dmx::sd::CLIPTokenizer::load(dmx::fuzz::scratch_folder() + "/tokenizer");
    (void)tokenizer.encode(parts[3]);
    (void)tokenizer.encode_batch({parts[3], ""});
  });
  return 0;
}
