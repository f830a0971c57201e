// The dataset layouts on small trees the tests write, every malformed case, and the real Fashion-MNIST files.
#include <gtest/gtest.h>

#include <filesystem>

#include "data_test_files.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"

namespace {

using dmx::test::TempDir;
using dmx::test::expect_error;
using dmx::test::write_text;

// ---- Fashion-MNIST -------------------------------------------------------------------------------------------

TEST(FashionMnist, ReadsGzippedIdxFiles) {
  TempDir dir;
  dmx::test::write_fashion_mnist(dir.str(), "train", {3, 0, 9, 3});
  dmx::test::write_fashion_mnist(dir.str(), "t10k", {1});
  const auto train = dmx::data::open_fashion_mnist(dir.str(), "train");
  ASSERT_EQ(train->size(), 4);
  EXPECT_EQ(train->label(2), 9);
  EXPECT_EQ(train->class_names().at(9), "Ankle boot");
  EXPECT_EQ(train->metaclass(), "clothing");
  dmx::data::ImageRequest gray;
  gray.channels = 0;
  const at::Tensor image = train->load_image(2, gray);
  EXPECT_EQ(image.sizes(), (std::vector<int64_t>{28, 28, 1}));
  EXPECT_EQ(image[5][5][0].item<int>(), 2);  // the writer fills image i with i
  EXPECT_EQ(train->load_image(2).size(2), 3);
  EXPECT_EQ(dmx::data::open_fashion_mnist(dir.str(), "test")->size(), 1);
}

TEST(FashionMnist, MissingFileIsNotFoundNamingIt) {
  TempDir dir;
  expect_error([&] { dmx::data::open_fashion_mnist(dir.str(), "train"); }, dmx::ErrorCategory::NotFound,
               {"train-images-idx3-ubyte.gz"});
}

TEST(FashionMnist, WrongMagicNumberIsAFormatError) {
  TempDir dir;
  dmx::test::write_fashion_mnist(dir.str(), "train", {1, 2});
  std::vector<uint8_t> bad;
  dmx::test::append_u32(bad, 0x999);
  dmx::test::append_u32(bad, 2);
  dmx::test::gzip_bytes(dir / "train-labels-idx1-ubyte.gz", bad);
  expect_error([&] { dmx::data::open_fashion_mnist(dir.str(), "train"); }, dmx::ErrorCategory::Format,
               {"train-labels-idx1-ubyte.gz", "magic"});
}

TEST(FashionMnist, TruncatedImageFileIsAFormatError) {
  TempDir dir;
  dmx::test::write_fashion_mnist(dir.str(), "train", {1, 2, 3});
  std::vector<uint8_t> truncated;
  for (const uint32_t v : {0x803u, 3u, 28u, 28u}) dmx::test::append_u32(truncated, v);
  truncated.resize(truncated.size() + 28 * 28 * 2);  // two of three images
  dmx::test::gzip_bytes(dir / "train-images-idx3-ubyte.gz", truncated);
  expect_error([&] { dmx::data::open_fashion_mnist(dir.str(), "train"); }, dmx::ErrorCategory::Format,
               {"train-images-idx3-ubyte.gz", "ends early"});
}

TEST(FashionMnist, CorruptGzipIsAFormatError) {
  TempDir dir;
  dmx::test::write_fashion_mnist(dir.str(), "train", std::vector<uint8_t>(50, 1));
  auto bytes = dmx::test::read_bytes(dir / "train-images-idx3-ubyte.gz");
  for (size_t i = 20; i < bytes.size() - 8; ++i) bytes[i] ^= 0x5a;
  dmx::test::write_bytes(dir / "train-images-idx3-ubyte.gz", bytes);
  expect_error([&] { dmx::data::open_fashion_mnist(dir.str(), "train"); }, dmx::ErrorCategory::Format,
               {"train-images-idx3-ubyte.gz"});
}

TEST(FashionMnist, LabelCountMismatchIsAFormatError) {
  TempDir dir;
  dmx::test::write_fashion_mnist(dir.str(), "train", {1, 2, 3});
  dmx::test::write_fashion_mnist(dir / "other", "train", {1, 2});
  std::filesystem::copy_file(dir / "other/train-labels-idx1-ubyte.gz", dir / "train-labels-idx1-ubyte.gz",
                             std::filesystem::copy_options::overwrite_existing);
  expect_error([&] { dmx::data::open_fashion_mnist(dir.str(), "train"); }, dmx::ErrorCategory::Format,
               {"2 labels for 3 images"});
}

TEST(FashionMnist, OutOfRangeLabelIsAnErrorOrALoggedSkip) {
  TempDir dir;
  dmx::test::write_fashion_mnist(dir.str(), "train", {1, 12, 3});
  expect_error([&] { dmx::data::open_fashion_mnist(dir.str(), "train"); }, dmx::ErrorCategory::Format,
               {"train-labels-idx1-ubyte.gz: label 1", "class 12"});
  const auto kept = dmx::data::open_fashion_mnist(dir.str(), "train", /*skip_bad_entries=*/true);
  ASSERT_EQ(kept->size(), 2);
  EXPECT_EQ(kept->label(1), 3);
  // The skipped sample does not shift the images: sample 1 is image 2 of the file.
  dmx::data::ImageRequest gray;
  gray.channels = 0;
  EXPECT_EQ(kept->load_image(1, gray)[0][0][0].item<int>(), 2);
  EXPECT_NE(kept->describe(1).find("image 2"), std::string::npos);
}

TEST(FashionMnist, UnknownSplitIsRejected) {
  expect_error([] { dmx::data::open_fashion_mnist("/tmp", "validation"); }, dmx::ErrorCategory::InvalidArgument,
               {"validation"});
}

TEST(FashionMnist, RealFilesFromTheDebianPackage) {
  const std::string root = dmx::data::kFashionMnistDefaultRoot;
  if (!std::filesystem::exists(root + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  dmx::data::DatasetSpec spec;  // the defaults: Fashion-MNIST train from the package's folder
  const auto train = dmx::data::open_dataset(spec);
  ASSERT_EQ(train->size(), 60000);
  EXPECT_EQ(train->label(0), 9);  // the first training image is an ankle boot
  EXPECT_EQ(train->class_counts(), std::vector<int64_t>(10, 6000));
  EXPECT_EQ(train->load_image(0).sizes(), (std::vector<int64_t>{28, 28, 3}));
  spec.split = "test";
  EXPECT_EQ(dmx::data::open_dataset(spec)->size(), 10000);
  spec.shots = 5;
  EXPECT_EQ(dmx::data::open_dataset(spec)->class_counts(), std::vector<int64_t>(10, 5));
}

// ---- ImageFolder ---------------------------------------------------------------------------------------------

TEST(ImageFolder, ClassesAreSortedFolderNamesAndImagesAreFoundRecursively) {
  TempDir dir;
  dmx::test::write_picture(dir / "train/zebra/a.jpg", 8, 8, 1);
  dmx::test::write_picture(dir / "train/zebra/more/b.PNG", 8, 8, 2);
  dmx::test::write_picture(dir / "train/ant/c.png", 9, 7, 3);
  write_text(dir / "train/ant/notes.txt", "not an image");
  const auto dataset = dmx::data::open_image_folder(dir.str(), "train", "animal");
  EXPECT_EQ(dataset->class_names(), (std::vector<std::string>{"ant", "zebra"}));
  EXPECT_EQ(dataset->class_counts(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(dataset->metaclass(), "animal");
  EXPECT_EQ(dataset->load_image(0).sizes(), (std::vector<int64_t>{9, 7, 3}));
  EXPECT_TRUE(dataset->load_image(0).equal(dmx::test::test_picture(9, 7, 3)));
}

TEST(ImageFolder, MissingRootAndEmptyClassFolder) {
  TempDir dir;
  expect_error([&] { dmx::data::open_image_folder(dir / "nope", ""); }, dmx::ErrorCategory::NotFound, {"nope"});
  dmx::test::write_picture(dir / "a/x.png", 4, 4);
  std::filesystem::create_directories(dir / "b");
  expect_error([&] { dmx::data::open_image_folder(dir.str(), ""); }, dmx::ErrorCategory::Format,
               {"/b", "no .jpg"});
  // Skipping keeps the class (indices stay those of the folder names) with no samples.
  const auto dataset = dmx::data::open_image_folder(dir.str(), "", "object", /*skip_bad_entries=*/true);
  EXPECT_EQ(dataset->class_counts(), (std::vector<int64_t>{1, 0}));
}

TEST(ImageFolder, CorruptImageIsReportedAtLoadOrSkippedWhenVerifying) {
  TempDir dir;
  dmx::test::write_picture(dir / "a/good.png", 4, 4);
  write_text(dir / "a/broken.jpg", "\xff\xd8\xff garbage");
  const auto lazy = dmx::data::open_image_folder(dir.str(), "");
  ASSERT_EQ(lazy->size(), 2);
  expect_error([&] { lazy->load_image(0); }, dmx::ErrorCategory::Format, {"broken.jpg"});  // sorted: broken first
  expect_error([&] { dmx::data::open_image_folder(dir.str(), "", "object", false, /*verify_images=*/true); },
               dmx::ErrorCategory::Format, {"broken.jpg"});
  const auto verified = dmx::data::open_image_folder(dir.str(), "", "object", true, true);
  ASSERT_EQ(verified->size(), 1);
  EXPECT_NE(verified->describe(0).find("good.png"), std::string::npos);
}

// ---- CUB-200-2011 ---------------------------------------------------------------------------------------------

TEST(Cub, ReadsTheIndexFilesAndSplits) {
  TempDir dir;
  dmx::test::write_cub(dir.str(), 3, 4);
  const auto train = dmx::data::open_cub(dir.str(), "train");
  const auto test = dmx::data::open_cub(dir.str(), "test");
  EXPECT_EQ(train->size(), 6);
  EXPECT_EQ(test->size(), 6);
  EXPECT_EQ(dmx::data::open_cub(dir.str(), "all")->size(), 12);
  EXPECT_EQ(train->class_names().at(1), "Bird number 2");
  EXPECT_EQ(train->metaclass(), "bird");
  EXPECT_EQ(train->class_counts(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(train->load_image(0).sizes(), (std::vector<int64_t>{20, 24, 3}));
}

// A line appended to one index file of a valid tree: an error naming the file and line, or, when skipping, a tree
// that still opens with the bad entry left out.
TEST(Cub, MalformedLinesAreErrorsNamingFileAndLineOrSkips) {
  struct Corruption {
    const char* file;
    const char* line;
    std::vector<std::string> needles;
  };
  const std::vector<Corruption> corruptions = {
      {"images.txt", "five 001.Bird_number_1/x.jpg\n", {"images.txt:5", "five"}},
      {"image_class_labels.txt", "4 2 7\n", {"image_class_labels.txt:5"}},
      {"train_test_split.txt", "4\n", {"train_test_split.txt:5"}},
      {"images.txt", "4 001.Bird_number_1/img_1.jpg\n", {"images.txt:5", "twice"}},
      {"images.txt", "5 001.Bird_number_1/img_1.jpg\n", {"images.txt: image id 5", "image_class_labels.txt"}},
  };
  for (const Corruption& c : corruptions) {
    SCOPED_TRACE(std::string(c.file) + " += " + c.line);
    TempDir dir;
    dmx::test::write_cub(dir.str(), 2, 2);
    std::ofstream(dir / c.file, std::ios::app) << c.line;
    expect_error([&] { dmx::data::open_cub(dir.str(), "all"); }, dmx::ErrorCategory::Format, c.needles);
    EXPECT_EQ(dmx::data::open_cub(dir.str(), "all", /*skip_bad_entries=*/true)->size(), 4);
  }
}

TEST(Cub, MissingImageFileIsNamed) {
  TempDir dir;
  dmx::test::write_cub(dir.str(), 2, 2);
  std::filesystem::remove(dir / "images/002.Bird_number_2/img_3.jpg");
  expect_error([&] { dmx::data::open_cub(dir.str(), "all"); }, dmx::ErrorCategory::Format,
               {"image id 3", "img_3.jpg", "does not exist"});
  EXPECT_EQ(dmx::data::open_cub(dir.str(), "all", true)->size(), 3);
}

TEST(Cub, VerifyingFindsACorruptImage) {
  TempDir dir;
  dmx::test::write_cub(dir.str(), 2, 2);
  auto bytes = dmx::test::read_bytes(dir / "images/001.Bird_number_1/img_1.jpg");
  bytes.resize(bytes.size() / 2);
  dmx::test::write_bytes(dir / "images/001.Bird_number_1/img_1.jpg", bytes);
  EXPECT_EQ(dmx::data::open_cub(dir.str(), "all")->size(), 4);  // not decoded at open time by default
  expect_error([&] { dmx::data::open_cub(dir.str(), "all", false, /*verify_images=*/true); },
               dmx::ErrorCategory::Format, {"img_1.jpg"});
  EXPECT_EQ(dmx::data::open_cub(dir.str(), "all", true, true)->size(), 3);
}

TEST(Cub, OutOfRangeClassAndBadSplitFlag) {
  TempDir dir;
  dmx::test::write_cub(dir.str(), 2, 2);
  write_text(dir / "image_class_labels.txt", "1 1\n2 1\n3 2\n4 9\n");
  expect_error([&] { dmx::data::open_cub(dir.str(), "all"); }, dmx::ErrorCategory::Format,
               {"image_class_labels.txt: image id 4", "'9'"});
  write_text(dir / "image_class_labels.txt", "1 1\n2 1\n3 2\n4 2\n");
  write_text(dir / "train_test_split.txt", "1 1\n2 0\n3 2\n4 1\n");
  expect_error([&] { dmx::data::open_cub(dir.str(), "all"); }, dmx::ErrorCategory::Format,
               {"train_test_split.txt: image id 3", "'2'"});
  EXPECT_EQ(dmx::data::open_cub(dir.str(), "all", true)->size(), 3);
}

TEST(Cub, MissingIndexFileIsNotFound) {
  TempDir dir;
  dmx::test::write_cub(dir.str(), 2, 1);
  std::filesystem::remove(dir / "train_test_split.txt");
  expect_error([&] { dmx::data::open_cub(dir.str(), "train"); }, dmx::ErrorCategory::NotFound,
               {"train_test_split.txt"});
}

TEST(Cub, ClassIdsWithGapsAreRejected) {
  TempDir dir;
  dmx::test::write_cub(dir.str(), 2, 1);
  write_text(dir / "classes.txt", "1 001.A\n3 003.C\n");
  expect_error([&] { dmx::data::open_cub(dir.str(), "train"); }, dmx::ErrorCategory::Format, {"classes.txt"});
}

// ---- open_dataset --------------------------------------------------------------------------------------------

TEST(OpenDataset, UnknownKindListsTheKnownOnes) {
  dmx::data::DatasetSpec spec;
  spec.kind = "imagenet";
  spec.root = "/tmp";
  expect_error([&] { dmx::data::open_dataset(spec); }, dmx::ErrorCategory::InvalidArgument,
               {"imagenet", "image-folder", "cub"});
}

TEST(OpenDataset, AppliesMetaclassShotsAndImbalance) {
  TempDir dir;
  dmx::test::write_cub(dir.str(), 3, 8);
  dmx::data::DatasetSpec spec;
  spec.kind = "cub";
  spec.root = dir.str();
  spec.split = "all";
  spec.metaclass = "songbird";
  spec.shots = 6;
  spec.imbalance = 6.0;
  const auto dataset = dmx::data::open_dataset(spec);
  EXPECT_EQ(dataset->metaclass(), "songbird");
  // 6 per class, then eq. 4 with n̄ = 6, ρ = 6 and exponent k / (N − 2) = k: 6, floor(6/6) = 1, max(floor(6/36), 1) = 1.
  EXPECT_EQ(dataset->class_counts(), (std::vector<int64_t>{6, 1, 1}));
}

}  // namespace
