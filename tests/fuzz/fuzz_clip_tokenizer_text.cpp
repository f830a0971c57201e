// Prompts given to the CLIP tokenizer shipped with models/fmnist-sd: text cleaning, Unicode lower-casing and NFC,
// CLIP's pre-tokenizer pattern, byte-level BPE and added tokens matched whole.
#include "diffmix/sd/clip_tokenizer.hpp"
#include "fuzz_support.hpp"

namespace {
dmx::sd::CLIPTokenizer* tokenizer = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tokenizer = new dmx::sd::CLIPTokenizer(dmx::sd::CLIPTokenizer::load(DMX_FUZZ_TOKENIZER_DIR));
  tokenizer->add_token("<class_3>");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  dmx::fuzz::expect_clean_failure([&] {
    (void)tokenizer->tokenize(text);
    (void)tokenizer->encode_batch({text}, 77);
  });
  return 0;
}
