// CUB-200-2011's index files: images.txt, image_class_labels.txt, train_test_split.txt and classes.txt, in that
// order, separated by "====" lines. The images themselves are not there: loading one must fail cleanly.
#include "diffmix/data/datasets.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = dmx::fuzz::split_parts(data, size, 4);
  const char* names[] = {"images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt"};
  for (size_t k = 0; k < 4; ++k) dmx::fuzz::write_scratch_file(std::string("cub/") + names[k], parts[k]);
  for (const char* split : {"train", "test", "all"}) {
    for (const bool skip_bad_entries : {false, true}) {
      dmx::fuzz::expect_clean_failure([&] {
        const auto dataset = dmx::data::open_cub(dmx::fuzz::scratch_folder() + "/cub", split, skip_bad_entries);
        (void)dataset->class_counts();
        for (int64_t i = 0; i < dataset->size() && i < 4; ++i) (void)dataset->describe(i);
        if (dataset->size() > 0) (void)dataset->load_image(0);
      });
    }
  }
  return 0;
}
