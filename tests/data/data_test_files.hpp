// Small dataset trees written by the tests themselves: IDX.gz files, ImageFolder and CUB layouts, images.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../common/test_files.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"

namespace dmx::test {

// The message of the dmx::Error `action` throws, or "no error".
inline std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "no error";
}

// A fresh folder under the system temp dir, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() / ("diffmix-data-test-" + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Runs f, expects a dmx::Error of `category` whose message contains every string in `needles`.
template <typename F>
inline void expect_error(F&& f, dmx::ErrorCategory category, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected a dmx::Error";
  } catch (const dmx::Error& error) {
    EXPECT_EQ(error.category(), category) << error.what();
    for (const auto& needle : needles)
      EXPECT_NE(std::string(error.what()).find(needle), std::string::npos) << error.what() << " lacks " << needle;
  }
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void gzip_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

inline void append_u32(std::vector<uint8_t>& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

// IDX label and image files in Fashion-MNIST naming; image i is filled with the value i (mod 256).
inline void write_fashion_mnist(const std::string& root, const std::string& file_prefix,
                                const std::vector<uint8_t>& labels, uint32_t rows = 28, uint32_t cols = 28) {
  std::filesystem::create_directories(root);
  std::vector<uint8_t> label_file;
  append_u32(label_file, 0x801);
  append_u32(label_file, static_cast<uint32_t>(labels.size()));
  label_file.insert(label_file.end(), labels.begin(), labels.end());
  gzip_bytes(root + "/" + file_prefix + "-labels-idx1-ubyte.gz", label_file);

  std::vector<uint8_t> image_file;
  append_u32(image_file, 0x803);
  append_u32(image_file, static_cast<uint32_t>(labels.size()));
  append_u32(image_file, rows);
  append_u32(image_file, cols);
  for (size_t i = 0; i < labels.size(); ++i) image_file.insert(image_file.end(), rows * cols, static_cast<uint8_t>(i));
  gzip_bytes(root + "/" + file_prefix + "-images-idx3-ubyte.gz", image_file);
}

// A smooth RGB test picture (gradients; JPEG keeps it well) whose colour encodes `tag`.
inline at::Tensor test_picture(int64_t height, int64_t width, int tag = 0) {
  const at::Tensor y = at::arange(height, at::kFloat).view({height, 1, 1}).expand({height, width, 1});
  const at::Tensor x = at::arange(width, at::kFloat).view({1, width, 1}).expand({height, width, 1});
  const at::Tensor r = y * (200.0 / std::max<int64_t>(height - 1, 1));
  const at::Tensor g = x * (200.0 / std::max<int64_t>(width - 1, 1));
  const at::Tensor b = at::full({height, width, 1}, static_cast<float>((tag * 37) % 256));
  return at::cat({r, g, b}, 2).round().to(at::kByte).contiguous();
}

inline void write_picture(const std::string& path, int64_t height, int64_t width, int tag = 0) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  io::write_image(path, test_picture(height, width, tag));
}

// A CUB-200-2011 tree with `classes` classes and `per_class` images each; odd images are train.
inline void write_cub(const std::string& root, int classes, int per_class) {
  std::string classes_txt, images_txt, labels_txt, split_txt;
  int id = 1;
  for (int c = 1; c <= classes; ++c) {
    char folder[64];
    std::snprintf(folder, sizeof(folder), "%03d.Bird_number_%d", c, c);
    classes_txt += std::to_string(c) + " " + folder + "\n";
    for (int i = 0; i < per_class; ++i, ++id) {
      const std::string file = std::string(folder) + "/img_" + std::to_string(id) + ".jpg";
      write_picture(root + "/images/" + file, 20, 24, id);
      images_txt += std::to_string(id) + " " + file + "\n";
      labels_txt += std::to_string(id) + " " + std::to_string(c) + "\n";
      split_txt += std::to_string(id) + " " + (id % 2 ? "1" : "0") + "\n";
    }
  }
  write_text(root + "/classes.txt", classes_txt);
  write_text(root + "/images.txt", images_txt);
  write_text(root + "/image_class_labels.txt", labels_txt);
  write_text(root + "/train_test_split.txt", split_txt);
}

}  // namespace dmx::test
