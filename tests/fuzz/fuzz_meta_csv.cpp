// The original authors' synthetic cache index, meta.csv, matched against class names.
#include "diffmix/data/synthetic_cache.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dmx::fuzz::write_scratch_file("authors-cache/meta.csv", {reinterpret_cast<const char*>(data), size});
  static const std::vector<std::string> class_names = {"Black footed Albatross", "Laysan_Albatross", "Sooty Albatross",
                                                       "a", "b"};
  for (const bool skip_bad_entries : {false, true}) {
    dmx::fuzz::expect_clean_failure([&] {
      dmx::data::SyntheticCacheOptions options;
      options.skip_bad_entries = skip_bad_entries;
      const auto cache =
          dmx::data::SyntheticCache::open_meta_csv(dmx::fuzz::scratch_folder() + "/authors-cache", class_names, options);
      for (int64_t i = 0; i < cache->size() && i < 16; ++i) (void)cache->soft_label(i);
    });
  }
  return 0;
}
