// A plugin's config_schema_json (what the plugin declares about its keys) checked against a TOML table: the JSON
// schema, then the TOML text, separated by a "====" line.
#include "config_schema.hpp"
#include "diffmix/config.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = dmx::fuzz::split_parts(data, size, 2);
  dmx::fuzz::expect_clean_failure([&] {
    const auto document = dmx::config::Document::parse_string(parts[1], "augment.toml");
    dmx::check_against_schema(document.root(), parts[0].c_str(), "fuzz");
  });
  return 0;
}
