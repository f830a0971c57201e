// A config file as `diffmix train` and `diffmix compare` read it: TOML++'s parser, then every schema check (types,
// ranges, allowed values, unknown keys with suggestions).
#include "diffmix/classifier/compare.hpp"
#include "diffmix/classifier/train_config.hpp"
#include "diffmix/config.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  dmx::fuzz::expect_clean_failure([&] {
    const auto document = dmx::config::Document::parse_string(text, "fuzz.toml");
    const auto root = document.root();
    (void)dmx::classifier::read_train_config(root);
    root.finish();
  });
  dmx::fuzz::expect_clean_failure([&] {
    const auto document = dmx::config::Document::parse_string(text, "fuzz.toml");
    const auto root = document.root();
    (void)dmx::classifier::read_compare_matrix(root);
    root.finish();
  });
  return 0;
}
