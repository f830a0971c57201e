// Waterbirds' metadata.csv. The images are not there: loading one must fail cleanly.
#include "diffmix/data/datasets.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dmx::fuzz::write_scratch_file("waterbirds/metadata.csv",
                                std::string_view(reinterpret_cast<const char*>(data), size));
  for (const char* split : {"train", "test"}) {
    for (const bool skip_bad_entries : {false, true}) {
      dmx::fuzz::expect_clean_failure([&] {
        std::vector<int64_t> groups;
        const auto dataset = dmx::data::open_waterbirds(dmx::fuzz::scratch_folder() + "/waterbirds", split,
                                                        skip_bad_entries, false, &groups);
        (void)dataset->class_counts();
        if (dataset->size() > 0) (void)dataset->load_image(0);
      });
    }
  }
  return 0;
}
