// Safetensors round trips for every dtype, and a clear error naming the file for every kind of malformed file.
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using dmx::io::SafetensorsFile;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dmx_safetensors_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // A file made of a raw header (declared length `declared`, or the header's own length) and `data_bytes` zero bytes.
  std::string write_raw(const std::string& name, const std::string& header, size_t data_bytes,
                        int64_t declared = -1) const {
    const auto p = path(name);
    std::ofstream out(p, std::ios::binary);
    const uint64_t length = declared < 0 ? header.size() : static_cast<uint64_t>(declared);
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(length >> (8 * i)));
    out << header << std::string(data_bytes, '\0');
    return p;
  }

  // Opening `file` must throw a dmx::Error of `category` whose message names the file and contains `fragment`.
  static void expect_open_error(const std::string& file, dmx::ErrorCategory category, const std::string& fragment) {
    try {
      SafetensorsFile::open(file);
      FAIL() << "opening " << file << " did not throw";
    } catch (const dmx::Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(e.category(), category) << message;
      EXPECT_NE(message.find(file), std::string::npos) << message;
      EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << message;
    }
  }

  std::string dir_;
};

TEST_F(SafetensorsTest, RoundTripsEveryDtypeShapeAndMetadata) {
  const std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f32", at::randn({2, 3})},
      {"f64", at::randn({4}, at::kDouble)},
      {"f16", at::randn({3, 1, 2}).to(at::kHalf)},
      {"bf16", at::randn({5}).to(at::kBFloat16)},
      {"i64", at::arange(-3, 9, at::kLong).reshape({3, 4})},
      {"i32", at::arange(0, 6, at::kInt)},
      {"i16", at::arange(-2, 2, at::kShort)},
      {"i8", at::arange(-4, 4, at::kChar)},
      {"u8", at::arange(250, 256, at::kInt).to(at::kByte)},
      {"bool", at::tensor({1, 0, 1}).to(at::kBool)},
      {"scalar", at::scalar_tensor(2.5)},
      {"empty", at::zeros({0, 7})},
      {"strided", at::randn({4, 6}).t()},  // non-contiguous input is written in logical order
  };
  const auto file_path = path("all.safetensors");
  dmx::io::save_safetensors(file_path, tensors, {{"format", "pt"}, {"prompt", "a \"quoted\" prompt"}});

  const auto file = SafetensorsFile::open(file_path);
  EXPECT_EQ(file.path(), file_path);
  ASSERT_EQ(file.names().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, expected] = tensors[i];
    SCOPED_TRACE(name);
    EXPECT_EQ(file.names()[i], name);  // written in the given order
    EXPECT_TRUE(file.contains(name));
    EXPECT_EQ(file.dtype(name), expected.scalar_type());
    EXPECT_EQ(file.shape(name), expected.sizes().vec());
    const auto actual = file.tensor(name);
    EXPECT_TRUE(actual.is_contiguous());
    EXPECT_TRUE(at::equal(actual, expected.contiguous()));
  }
  EXPECT_FALSE(file.contains("absent"));
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("prompt"), "a \"quoted\" prompt");
}

TEST_F(SafetensorsTest, TensorIsOwnedAndOutlivesTheFile) {
  const auto file_path = path("owned.safetensors");
  dmx::io::save_safetensors(file_path, {{"w", at::ones({3})}});
  at::Tensor kept;
  {
    const auto file = SafetensorsFile::open(file_path);
    kept = file.tensor("w");
  }
  kept.add_(1);  // writable and still valid after the mapping is gone
  EXPECT_TRUE(at::equal(kept, at::full({3}, 2.0)));
}

// Reading a tensor lets go of the mapped pages it came from (loading a model does not hold the file and its copy
// together): the process's resident memory does not grow by the file, and reading again gives the same values.
TEST_F(SafetensorsTest, ReadingATensorReleasesItsMappedPages) {
  const auto file_path = path("large.safetensors");
  const at::Tensor values = at::arange(16 << 20, at::kFloat);  // 64 MiB
  dmx::io::save_safetensors(file_path, {{"w", values}});
  const auto resident_mib = [] {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024;
    return -1.0;
  };
  const auto file = SafetensorsFile::open(file_path);
  const double before = resident_mib();
  const at::Tensor first = file.tensor("w");
  const double after = resident_mib();
  EXPECT_LT(after - before, 64 + 32) << "the copy (64 MiB) is resident, the mapped file is not";
  EXPECT_TRUE(at::equal(first, values));
  EXPECT_TRUE(at::equal(file.tensor("w"), values));
}

TEST_F(SafetensorsTest, DataAreaIsEightByteAligned) {
  const auto file_path = path("aligned.safetensors");
  dmx::io::save_safetensors(file_path, {{"odd_name_length", at::ones({1})}});
  std::ifstream in(file_path, std::ios::binary);
  uint8_t length[8];
  in.read(reinterpret_cast<char*>(length), 8);
  EXPECT_EQ(length[0] % 8, 0);
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  expect_open_error(path("nope.safetensors"), dmx::ErrorCategory::NotFound, "no such");
}

TEST_F(SafetensorsTest, AskingForAnAbsentTensorNamesIt) {
  const auto file_path = path("one.safetensors");
  dmx::io::save_safetensors(file_path, {{"w", at::ones({1})}});
  const auto file = SafetensorsFile::open(file_path);
  try {
    file.tensor("bias");
    FAIL();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::NotFound);
    EXPECT_NE(std::string(e.what()).find("'bias'"), std::string::npos);
  }
}

TEST_F(SafetensorsTest, TruncatedFiles) {
  const auto tiny = path("tiny.safetensors");
  std::ofstream(tiny, std::ios::binary) << "abc";
  expect_open_error(tiny, dmx::ErrorCategory::Format, "truncated");

  // A valid file cut short inside its data.
  const auto whole = path("whole.safetensors");
  dmx::io::save_safetensors(whole, {{"w", at::ones({64})}});
  struct stat info {};
  ASSERT_EQ(::stat(whole.c_str(), &info), 0);
  ASSERT_EQ(::truncate(whole.c_str(), info.st_size - 10), 0);
  expect_open_error(whole, dmx::ErrorCategory::Format, "outside the data area");
}

TEST_F(SafetensorsTest, HeaderLengthBeyondTheFile) {
  expect_open_error(write_raw("long.safetensors", "{}", 0, 1000), dmx::ErrorCategory::Format, "runs past the end");
  expect_open_error(write_raw("huge.safetensors", "{}", 0, INT64_MAX), dmx::ErrorCategory::Format, "runs past the end");
}

TEST_F(SafetensorsTest, BadJson) {
  expect_open_error(write_raw("bad.safetensors", "{\"w\": {\"dtype\": ", 0), dmx::ErrorCategory::Format,
                    "not valid JSON");
  expect_open_error(write_raw("array.safetensors", "[1, 2]", 0), dmx::ErrorCategory::Format, "JSON object");
  expect_open_error(write_raw("entry.safetensors", "{\"w\": 3}", 0), dmx::ErrorCategory::Format, "'w'");
  expect_open_error(write_raw("noshape.safetensors", R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", 4),
                    dmx::ErrorCategory::Format, "'shape'");
  expect_open_error(write_raw("negative.safetensors", R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
                    dmx::ErrorCategory::Format, "non-negative");
  expect_open_error(write_raw("meta.safetensors", R"({"__metadata__": {"a": 1}})", 0), dmx::ErrorCategory::Format,
                    "__metadata__");
}

TEST_F(SafetensorsTest, UnknownDtype) {
  expect_open_error(write_raw("dtype.safetensors", R"({"w": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}})", 4),
                    dmx::ErrorCategory::Format, "unknown dtype 'F8_E4M3'");
}

TEST_F(SafetensorsTest, OffsetsOutOfRange) {
  expect_open_error(write_raw("range.safetensors", R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8),
                    dmx::ErrorCategory::Format, "outside the data area");
  expect_open_error(write_raw("reversed.safetensors", R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", 8),
                    dmx::ErrorCategory::Format, "outside the data area");
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  expect_open_error(write_raw("overlap.safetensors",
                              R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                              12),
                    dmx::ErrorCategory::Format, "overlaps tensor 'a'");
}

TEST_F(SafetensorsTest, ShapeSizeMismatch) {
  expect_open_error(write_raw("mismatch.safetensors", R"({"w": {"dtype": "F16", "shape": [3], "data_offsets": [0, 8]}})", 8),
                    dmx::ErrorCategory::Format, "needs 6 bytes");
  // A shape whose byte count overflows 64 bits must not wrap around to a small, "valid" number.
  expect_open_error(write_raw("overflow.safetensors",
                              R"({"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 0]}})", 0),
                    dmx::ErrorCategory::Format, "too large");
}

TEST_F(SafetensorsTest, NamesFollowDataOrderNotHeaderOrder) {
  const auto p = write_raw("order.safetensors",
                           R"({"z": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                               "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                           2);
  EXPECT_EQ(SafetensorsFile::open(p).names(), (std::vector<std::string>{"z", "a"}));
}

TEST_F(SafetensorsTest, FailedWriteNamesTheFileAndLeavesNothing) {
  const auto in_missing_folder = path("no/such/folder/w.safetensors");
  try {
    dmx::io::save_safetensors(in_missing_folder, {{"w", at::ones({2})}});
    FAIL();
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), dmx::ErrorCategory::Io);
    EXPECT_NE(std::string(e.what()).find(in_missing_folder), std::string::npos) << e.what();
  }
  EXPECT_EQ(std::system(("test -z \"$(ls -A '" + dir_ + "')\"").c_str()), 0) << "a partial file was left";
}

TEST_F(SafetensorsTest, RefusesDuplicateNames) {
  EXPECT_THROW(dmx::io::save_safetensors(path("dup.safetensors"), {{"w", at::ones({1})}, {"w", at::ones({1})}}),
               dmx::Error);
}

}  // namespace
