// The Diff-Mix paper's datasets in their published layouts, on tiny trees the tests write: class names as the
// authors write them, metaclasses, splits, and every malformed case naming its file and line or element.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "data_test_files.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "published_layouts.hpp"

namespace {

using dmx::ErrorCategory;
using dmx::test::expect_error;
using dmx::test::TempDir;
using dmx::test::write_text;

std::vector<int64_t> labels_of(const dmx::data::Dataset& dataset) {
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < dataset.size(); ++i) labels.push_back(dataset.label(i));
  return labels;
}

dmx::data::DatasetPtr open_kind(const std::string& kind, const std::string& root, const std::string& split) {
  dmx::data::DatasetSpec spec;
  spec.kind = kind;
  spec.root = root;
  spec.split = split;
  return dmx::data::open_dataset(spec);
}

// ---- Stanford Cars -------------------------------------------------------------------------------------------

TEST(StanfordCars, ReadsTheMatAnnotationsWithTheAuthorsClassNames) {
  TempDir dir;
  dmx::test::write_stanford_cars(dir.str());
  const auto train = open_kind("stanford-cars", dir.str(), "train");
  EXPECT_EQ(train->class_names(), (std::vector<std::string>{"am general hummer suv 2000",
                                                            "ram c v cargo van minivan 2012"}));
  EXPECT_EQ(train->metaclass(), "car");
  EXPECT_EQ(labels_of(*train), (std::vector<int64_t>{0, 1, 1}));
  EXPECT_TRUE(train->load_image(1).equal(dmx::io::read_image(dir / "cars_train/b.jpg")));
  const auto test = open_kind("stanford-cars", dir.str(), "test");
  EXPECT_EQ(labels_of(*test), (std::vector<int64_t>{0}));
}

TEST(StanfordCars, BadAnnotationsAreErrorsNamingFileAndElement) {
  TempDir dir;
  dmx::test::write_stanford_cars(dir.str());
  dmx::test::MatWriter(dir / "devkit/cars_train_annos.mat")
      .records("annotations", "fname", {"a.jpg", "b.jpg", "missing.jpg"}, "class", {1, 3, 2});
  expect_error([&] { dmx::data::open_stanford_cars(dir.str(), "train"); }, ErrorCategory::Format,
               {dir / "devkit/cars_train_annos.mat: annotations element 2", "class 3 is not in [1, 2]"});
  // Skipping leaves out the bad class and the missing image, and keeps the rest.
  EXPECT_EQ(dmx::data::open_stanford_cars(dir.str(), "train", true)->size(), 1);
  // A variable that is missing, a file that is not a .mat file, a file that is not there.
  dmx::test::MatWriter(dir / "devkit/cars_meta.mat").numbers("classes", {1, 2});
  expect_error([&] { dmx::data::open_stanford_cars(dir.str(), "train"); }, ErrorCategory::Format,
               {dir / "devkit/cars_meta.mat: variable 'class_names' is missing"});
  write_text(dir / "devkit/cars_meta.mat", "class_names = ['a', 'b']\n");
  expect_error([&] { dmx::data::open_stanford_cars(dir.str(), "train"); }, ErrorCategory::Format,
               {dir / "devkit/cars_meta.mat: not a MATLAB .mat file"});
  std::filesystem::remove(dir / "devkit/cars_meta.mat");
  expect_error([&] { dmx::data::open_stanford_cars(dir.str(), "train"); }, ErrorCategory::NotFound,
               {dir / "devkit/cars_meta.mat"});
  expect_error([&] { dmx::data::open_stanford_cars(dir.str(), "val"); }, ErrorCategory::InvalidArgument,
               {"unknown split 'val'"});
}

TEST(StanfordCars, ANumberWhereTheFileNameShouldBeIsNamed) {
  TempDir dir;
  dmx::test::write_stanford_cars(dir.str());
  // fname and class swapped: the struct has a number in fname and a string in class.
  dmx::test::MatWriter(dir / "devkit/cars_train_annos.mat")
      .records("annotations", "class", {"a.jpg"}, "fname", {1});
  expect_error([&] { dmx::data::open_stanford_cars(dir.str(), "train"); }, ErrorCategory::Format,
               {dir / "devkit/cars_train_annos.mat: variable 'annotations' element 1 field 'fname'",
                "is not a character array"});
}

// ---- Oxford Flowers 102 --------------------------------------------------------------------------------------

TEST(Flowers102, ReadsLabelsAndTheOfficialSplits) {
  TempDir dir;
  dmx::test::write_flowers102(dir.str());
  const auto train = open_kind("flowers102", dir.str(), "train");
  EXPECT_EQ(train->metaclass(), "flower");
  ASSERT_EQ(train->class_names().size(), 102u);
  EXPECT_EQ(train->class_names()[0], "pink primrose");
  EXPECT_EQ(train->class_names()[101], "blackberry lily");
  EXPECT_EQ(train->class_names()[87], "cyclamen");
  EXPECT_EQ(labels_of(*train), (std::vector<int64_t>{0, 1}));  // images 1 and 3
  EXPECT_EQ(labels_of(*open_kind("flowers102", dir.str(), "val")), (std::vector<int64_t>{0}));
  EXPECT_EQ(labels_of(*open_kind("flowers102", dir.str(), "trainval")), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(labels_of(*open_kind("flowers102", dir.str(), "test")), (std::vector<int64_t>{101, 1, 0}));
  EXPECT_TRUE(train->load_image(1).equal(dmx::io::read_image(dir / "jpg/image_00003.jpg")));
}

TEST(Flowers102, BadNumbersAreErrorsNamingTheFile) {
  TempDir dir;
  dmx::test::write_flowers102(dir.str());
  dmx::test::MatWriter setid(dir / "setid.mat");
  setid.numbers("trnid", {1, 7});
  setid.numbers("valid", {2.5});
  setid.numbers("tstid", {4});
  expect_error([&] { dmx::data::open_flowers102(dir.str(), "train"); }, ErrorCategory::Format,
               {dir / "setid.mat: image 7 of split 'train'", "is not an image number of"});
  expect_error([&] { dmx::data::open_flowers102(dir.str(), "val"); }, ErrorCategory::Format,
               {dir / "setid.mat: variable 'valid': element 1", "is not a whole number"});
  dmx::test::MatWriter(dir / "imagelabels.mat").numbers("labels", {1, 1, 2, 103, 2, 1});
  expect_error([&] { dmx::data::open_flowers102(dir.str(), "test"); }, ErrorCategory::Format,
               {dir / "imagelabels.mat: label of image 4", "103 is not in [1, 102]"});
}

// A .mat file's sizes are checked against its bytes before libmatio reads it, which would allocate what they claim.
std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Writes a little-endian 32-bit word at `at`.
void patch_word(std::string& bytes, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
}

TEST(MatAnnotations, SizesTheFileCannotHoldAreRefusedBeforeTheyAreRead) {
  TempDir dir;
  dmx::test::write_flowers102(dir.str());
  const std::string labels = dir / "imagelabels.mat";
  // Uncompressed: header (128), miMATRIX tag (8), flags (16), then the dimensions' tag at 152 and values at 160, 164.
  dmx::test::MatWriter(labels).numbers("labels", {1, 1, 2, 102, 2, 1});
  std::string bytes = read_bytes(labels);
  ASSERT_EQ(bytes.substr(126, 2), "IM");
  ASSERT_EQ(static_cast<uint8_t>(bytes[164]), 6u);  // 1 x 6
  patch_word(bytes, 160, 0x7FFFFFFF);
  patch_word(bytes, 164, 0x7FFFFFFF);
  write_bytes(labels, bytes);
  expect_error([&] { dmx::data::open_flowers102(dir.str(), "train"); }, ErrorCategory::Format,
               {labels + ": byte ", "holds only 48 bytes of data"});

  patch_word(bytes, 160, 0xFFFFFFFF);  // -1
  write_bytes(labels, bytes);
  expect_error([&] { dmx::data::open_flowers102(dir.str(), "train"); }, ErrorCategory::Format,
               {labels + ": byte 152: an array has a negative dimension (-1)"});

  // A cell array that claims two billion cells.
  const std::string meta = dir / "cars/devkit/cars_meta.mat";
  dmx::test::write_stanford_cars(dir / "cars");
  dmx::test::MatWriter(meta).strings("class_names", {"a", "b"});
  bytes = read_bytes(meta);
  ASSERT_EQ(static_cast<uint8_t>(bytes[160]), 2u);  // 2 x 1
  patch_word(bytes, 160, 0x7FFFFFFF);
  write_bytes(meta, bytes);
  expect_error([&] { dmx::data::open_stanford_cars(dir / "cars", "train"); }, ErrorCategory::Format,
               {meta + ": byte 152: an array claims 2147483647 nested arrays, but only"});
}

TEST(MatAnnotations, TruncatedCorruptAndOtherVersionsAreNamed) {
  TempDir dir;
  dmx::test::write_flowers102(dir.str());
  const std::string labels = dir / "imagelabels.mat";
  const std::string compressed = read_bytes(labels);  // written compressed

  write_bytes(labels, compressed.substr(0, compressed.size() - 10));
  expect_error([&] { dmx::data::open_flowers102(dir.str(), "train"); }, ErrorCategory::Format,
               {labels + ": byte 128: a data element of type 15 claims"});

  // Bytes of the zlib stream changed: its checksum (or its code) no longer agrees.
  std::string corrupt = compressed;
  for (size_t at = 150; at < corrupt.size() - 8; ++at) corrupt[at] = static_cast<char>(corrupt[at] ^ 0x5A);
  write_bytes(labels, corrupt);
  expect_error([&] { dmx::data::open_flowers102(dir.str(), "train"); }, ErrorCategory::Format,
               {labels + ": byte 128: compressed data"});

  std::string hdf5 = compressed;
  hdf5[124] = 0x00;
  hdf5[125] = 0x02;
  write_bytes(labels, hdf5);
  expect_error([&] { dmx::data::open_flowers102(dir.str(), "train"); }, ErrorCategory::Format,
               {labels + ": a MATLAB v7.3 (HDF5) .mat file", "save(..., '-v7')"});

  write_bytes(labels, std::string(200, 'x'));
  expect_error([&] { dmx::data::open_flowers102(dir.str(), "train"); }, ErrorCategory::Format,
               {labels + ": not a MATLAB 5 .mat file"});
}

// ---- FGVC-Aircraft -------------------------------------------------------------------------------------------

TEST(FgvcAircraft, ReadsVariantsFromTheDataFolder) {
  TempDir dir;
  dmx::test::write_fgvc_aircraft(dir.str());
  for (const std::string root : {dir.str(), dir / "data"}) {
    const auto trainval = open_kind("fgvc-aircraft", root, "trainval");
    EXPECT_EQ(trainval->class_names(), (std::vector<std::string>{"707-320", "F A-18"}));
    EXPECT_EQ(trainval->metaclass(), "aircraft");
    EXPECT_EQ(labels_of(*trainval), (std::vector<int64_t>{0, 1}));
    EXPECT_EQ(labels_of(*open_kind("fgvc-aircraft", root, "test")), (std::vector<int64_t>{1}));
  }
}

TEST(FgvcAircraft, UnknownVariantAndMalformedLineNameFileAndLine) {
  TempDir dir;
  dmx::test::write_fgvc_aircraft(dir.str());
  write_text(dir / "data/images_variant_test.txt", "0003 F/A-18\n0001 Boeing 707\n0002\n");
  expect_error([&] { dmx::data::open_fgvc_aircraft(dir.str(), "test"); }, ErrorCategory::Format,
               {dir / "data/images_variant_test.txt:2", "variant 'Boeing 707' is not in"});
  EXPECT_EQ(dmx::data::open_fgvc_aircraft(dir.str(), "test", true)->size(), 1);
  write_text(dir / "data/images_variant_test.txt", "0002\n");
  expect_error([&] { dmx::data::open_fgvc_aircraft(dir.str(), "test"); }, ErrorCategory::Format,
               {dir / "data/images_variant_test.txt:1", "expected '<image id> <variant>'"});
  expect_error([&] { dmx::data::open_fgvc_aircraft(dir.str(), "val"); }, ErrorCategory::NotFound,
               {dir / "data/images_variant_val.txt"});
}

// ---- Stanford Dogs -------------------------------------------------------------------------------------------

TEST(StanfordDogs, ReadsTheListsWithBreedNamesFromTheFolders) {
  TempDir dir;
  dmx::test::write_stanford_dogs(dir.str());
  const auto train = open_kind("stanford-dogs", dir.str(), "train");
  EXPECT_EQ(train->class_names(), (std::vector<std::string>{"Chihuahua", "African hunting dog"}));
  EXPECT_EQ(train->metaclass(), "dog");
  EXPECT_EQ(labels_of(*train), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(open_kind("stanford-dogs", dir.str(), "test")->size(), 1);
}

TEST(StanfordDogs, ALabelThatDisagreesWithTheFolderIsNamed) {
  TempDir dir;
  dmx::test::write_stanford_dogs(dir.str());
  dmx::test::MatWriter list(dir / "lists/train_list.mat");
  list.strings("file_list", {"n02085620-Chihuahua/n02085620_1.jpg"});
  list.numbers("labels", {2});
  expect_error([&] { dmx::data::open_stanford_dogs(dir.str(), "train"); }, ErrorCategory::Format,
               {dir / "lists/train_list.mat: entry 1", "is breed folder n02116738-African_hunting_dog"});
}

// ---- Waterbirds ----------------------------------------------------------------------------------------------

TEST(Waterbirds, ReadsSpeciesAndGroupsPerSplit) {
  TempDir dir;
  dmx::test::write_waterbirds(dir.str());
  std::vector<int64_t> groups;
  const auto test = dmx::data::open_waterbirds(dir.str(), "test", false, false, &groups);
  EXPECT_EQ(test->class_names(), (std::vector<std::string>{"Black footed Albatross", "Least Flycatcher"}));
  EXPECT_EQ(test->metaclass(), "bird");
  EXPECT_EQ(labels_of(*test), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(groups, (std::vector<int64_t>{2, 1}));  // waterbird on land, landbird on water
  EXPECT_EQ(dmx::data::waterbirds_group_names()[2], "waterbird on land");
  EXPECT_EQ(labels_of(*open_kind("waterbirds", dir.str(), "train")), (std::vector<int64_t>{0, 1}));
}

TEST(Waterbirds, MalformedMetadataNamesFileAndLine) {
  TempDir dir;
  dmx::test::write_waterbirds(dir.str());
  write_text(dir / "metadata.csv", "img_id,img_filename,y,split,place\n1,001.A/a.jpg,1,0,1\n2,b.jpg,0,3,0\n");
  expect_error([&] { dmx::data::open_waterbirds(dir.str(), "train"); }, ErrorCategory::Format,
               {dir / "metadata.csv:3", "split 0, 1 or 2"});
  write_text(dir / "metadata.csv", "img_id,img_filename,y,place\n");
  expect_error([&] { dmx::data::open_waterbirds(dir.str(), "train"); }, ErrorCategory::Format,
               {dir / "metadata.csv:1: the header has no column 'split'"});
  write_text(dir / "metadata.csv", "img_id,img_filename,y,split,place\n1,002.B/a.jpg,1,0,1\n");
  expect_error([&] { dmx::data::open_waterbirds(dir.str(), "train"); }, ErrorCategory::Format,
               {dir / "metadata.csv: no image of species 1"});
}

// ---- Pascal VOC 2012 ------------------------------------------------------------------------------------------

TEST(PascalVoc, LabelsEachImageWithItsLargestObject) {
  TempDir dir;
  dmx::test::write_pascal_voc(dir.str());
  const auto train = open_kind("pascal-voc", dir.str(), "train");
  ASSERT_EQ(train->class_names().size(), 20u);
  EXPECT_EQ(train->class_names()[7], "cat");
  EXPECT_EQ(train->metaclass(), "object");
  EXPECT_EQ(labels_of(*train), (std::vector<int64_t>{7, 19}));  // the cat outsizes the dog; the television
  EXPECT_EQ(labels_of(*open_kind("pascal-voc", dir.str(), "val")), (std::vector<int64_t>{14}));
  EXPECT_TRUE(train->load_image(0).equal(dmx::io::read_image(dir / "JPEGImages/a.jpg")));
}

TEST(PascalVoc, AMaskWithoutObjectsOrWithAForeignColourIsNamed) {
  TempDir dir;
  dmx::test::write_pascal_voc(dir.str());
  dmx::test::write_voc_mask(dir / "SegmentationObject/b.png", 4, 3, std::vector<uint8_t>(12, 0));
  expect_error([&] { dmx::data::open_pascal_voc(dir.str(), "train"); }, ErrorCategory::Format,
               {dir / "ImageSets/Segmentation/train.txt:2", "image b", "no object"});
  EXPECT_EQ(dmx::data::open_pascal_voc(dir.str(), "train", true)->size(), 1);
  dmx::io::write_image(dir / "SegmentationClass/c.png", dmx::test::test_picture(3, 4, 1));
  expect_error([&] { dmx::data::open_pascal_voc(dir.str(), "val"); }, ErrorCategory::Format,
               {dir / "SegmentationClass/c.png: pixel", "outside VOC's palette"});
}

TEST(PublishedLayouts, EveryKindIsListed) {
  const auto& kinds = dmx::data::dataset_kinds();
  for (const char* kind : {"stanford-cars", "flowers102", "fgvc-aircraft", "stanford-dogs", "waterbirds", "pascal-voc"})
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), kind), kinds.end()) << kind;
}

}  // namespace
