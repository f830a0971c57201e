// FGVC-Aircraft's data/variants.txt and data/images_variant_test.txt, in that order, separated by a "====" line.
// The images are not there: loading one must fail cleanly.
#include "diffmix/data/datasets.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = dmx::fuzz::split_parts(data, size, 2);
  dmx::fuzz::write_scratch_file("aircraft/data/variants.txt", parts[0]);
  dmx::fuzz::write_scratch_file("aircraft/data/images_variant_test.txt", parts[1]);
  for (const bool skip_bad_entries : {false, true}) {
    dmx::fuzz::expect_clean_failure([&] {
      const auto dataset = dmx::data::open_fgvc_aircraft(dmx::fuzz::scratch_folder() + "/aircraft", "test",
                                                         skip_bad_entries);
      (void)dataset->class_counts();
      if (dataset->size() > 0) (void)dataset->load_image(0);
    });
  }
  return 0;
}
