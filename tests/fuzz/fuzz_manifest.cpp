// A synthetic cache's manifest.jsonl: one JSON record per line, read strictly and with skip_bad_entries.
#include "diffmix/data/synthetic_cache.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dmx::fuzz::write_scratch_file("cache/manifest.jsonl", {reinterpret_cast<const char*>(data), size});
  for (const bool skip_bad_entries : {false, true}) {
    dmx::fuzz::expect_clean_failure([&] {
      dmx::data::SyntheticCacheOptions options;
      options.skip_bad_entries = skip_bad_entries;
      const auto cache = dmx::data::SyntheticCache::open(dmx::fuzz::scratch_folder() + "/cache", 10, options);
      for (int64_t i = 0; i < cache->size() && i < 16; ++i) {
        (void)cache->soft_label(i);
        (void)cache->image_path(i);
      }
      (void)cache->count_with_target(0, 3);
    });
  }
  return 0;
}
