// The MATLAB annotation files, read with libmatio: Stanford Cars' devkit/cars_meta.mat and
// devkit/cars_train_annos.mat, Oxford Flowers' imagelabels.mat and setid.mat, Stanford Dogs' lists/train_list.mat,
// in that order, separated by "====" lines. The images are not there: loading one must fail cleanly.
#include <filesystem>

#include "diffmix/data/datasets.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = dmx::fuzz::split_parts(data, size, 5);
  const std::string root = dmx::fuzz::scratch_folder() + "/mat";
  dmx::fuzz::write_scratch_file("mat/devkit/cars_meta.mat", parts[0]);
  dmx::fuzz::write_scratch_file("mat/devkit/cars_train_annos.mat", parts[1]);
  dmx::fuzz::write_scratch_file("mat/imagelabels.mat", parts[2]);
  dmx::fuzz::write_scratch_file("mat/setid.mat", parts[3]);
  dmx::fuzz::write_scratch_file("mat/lists/train_list.mat", parts[4]);
  std::filesystem::create_directories(root + "/Images/n02085620-Chihuahua");
  for (const auto open : {&dmx::data::open_stanford_cars, &dmx::data::open_flowers102,
                          &dmx::data::open_stanford_dogs}) {
    for (const bool skip_bad_entries : {false, true}) {
      dmx::fuzz::expect_clean_failure([&] {
        const auto dataset = open(root, "train", skip_bad_entries, false);
        (void)dataset->class_counts();
      });
    }
  }
  return 0;
}
