// Whole-file reads and atomic writes, and the image entry points that dispatch on format.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include <spdlog/spdlog.h>

#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "image_codecs.hpp"

namespace dmx::io {

std::vector<uint8_t> read_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) {
    if (errno == ENOENT) throw not_found(path + ": no such file");
    throw io_error_from_errno("cannot open " + path);
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file)) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) throw io_error("cannot read " + path);
  return bytes;
}

std::string read_text_if_exists(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return {};
  const auto bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

namespace {

constexpr const char* kTemporaryMark = ".tmp-";

std::string temporary_name_for(const std::string& path) {
  // Unique per process and call, so concurrent writers of different files in one folder never collide.
  static thread_local std::mt19937_64 engine(std::random_device{}());
  return path + kTemporaryMark + std::to_string(::getpid()) + "-" + std::to_string(engine() % 1000000000ULL);
}

void write_all(int fd, const uint8_t* data, size_t size, const std::string& path, const std::string& temporary) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const Error error = io_error_from_errno("cannot write " + path);
      ::close(fd);
      ::unlink(temporary.c_str());
      throw error;
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  const std::string temporary = temporary_name_for(path);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw io_error_from_errno("cannot create " + path + " (temporary " + temporary + ")");
  write_all(fd, static_cast<const uint8_t*>(data), size, path, temporary);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const Error error = io_error_from_errno("cannot write " + path);
    ::unlink(temporary.c_str());
    throw error;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const Error error = io_error_from_errno("cannot rename " + temporary + " to " + path);
    ::unlink(temporary.c_str());
    throw error;
  }
}

ImageFormat detect_image_format(const uint8_t* data, size_t size, const std::string& name) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return ImageFormat::Png;
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return ImageFormat::Jpeg;
  throw format_error(name + ": not a JPEG or PNG image (" + std::to_string(size) + " bytes, unknown signature)");
}

at::Tensor decode_image(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  if (options.channels != 0 && options.channels != 1 && options.channels != 3)
    throw invalid_argument(name + ": cannot decode to " + std::to_string(options.channels) +
                           " channels (expected 0, 1 or 3)");
  at::Tensor image = detect_image_format(data, size, name) == ImageFormat::Jpeg
                         ? decode_jpeg(data, size, name, options)
                         : decode_png(data, size, name);
  if (options.channels == 0) return image.size(2) == 4 ? convert_channels(image, 3) : image;
  return convert_channels(image, options.channels);
}

at::Tensor decode_image(const std::vector<uint8_t>& bytes, const std::string& name, const DecodeOptions& options) {
  return decode_image(bytes.data(), bytes.size(), name, options);
}

at::Tensor read_image(const std::string& path, const DecodeOptions& options) {
  const std::vector<uint8_t> bytes = read_file(path);
  return decode_image(bytes, path, options);
}

void write_image(const std::string& path, const at::Tensor& image, int jpeg_quality) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::vector<uint8_t> bytes;
  if (extension == ".png")
    bytes = encode_png(image, path);
  else if (extension == ".jpg" || extension == ".jpeg")
    bytes = encode_jpeg(image, jpeg_quality, path);
  else
    throw invalid_argument(path + ": unknown image extension '" + extension + "' (expected .png, .jpg or .jpeg)");
  write_file_atomic(path, bytes.data(), bytes.size());
}

at::Tensor convert_channels(const at::Tensor& image, int channels) {
  const int64_t have = image.size(2);
  if (have == channels) return image;
  if (channels == 3 && have == 1) return image.expand({image.size(0), image.size(1), 3}).contiguous();
  if (channels == 3 && have == 4) return image.narrow(2, 0, 3).contiguous();
  if (channels == 1 && (have == 3 || have == 4)) {
    // ITU-R 601 luma, as PIL's convert("L") does.
    const at::Tensor rgb = image.narrow(2, 0, 3).to(at::kFloat);
    const at::Tensor weights = at::tensor({0.299f, 0.587f, 0.114f});
    return (rgb * weights).sum(2, true).round().clamp(0, 255).to(at::kByte).contiguous();
  }
  throw invalid_argument("cannot convert a " + std::to_string(have) + "-channel image to " +
                         std::to_string(channels) + " channels");
}

void check_image_tensor(const at::Tensor& image, const std::string& name, const std::vector<int64_t>& channels) {
  const bool rank_ok = image.defined() && image.dim() == 3 && image.scalar_type() == at::kByte;
  const bool channels_ok =
      rank_ok && std::find(channels.begin(), channels.end(), image.size(2)) != channels.end();
  if (!channels_ok || image.size(0) <= 0 || image.size(1) <= 0) {
    std::string shape = "undefined";
    if (image.defined()) {
      shape = "[";
      for (int64_t d = 0; d < image.dim(); ++d) shape += (d ? "," : "") + std::to_string(image.size(d));
      shape += "] " + std::string(c10::toString(image.scalar_type()));
    }
    std::string allowed;
    for (size_t i = 0; i < channels.size(); ++i) allowed += (i ? "/" : "") + std::to_string(channels[i]);
    throw shape_error(name + ": expected a uint8 H×W×C image with C in " + allowed + ", got " + shape);
  }
}

int64_t remove_abandoned_temporaries(const std::string& folder) {
  std::error_code error;
  int64_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.find(kTemporaryMark) == std::string::npos || !entry.is_regular_file(error)) continue;
    if (std::filesystem::remove(entry.path(), error)) ++removed;
  }
  if (removed > 0) spdlog::info("{}: removed {} unfinished files of an interrupted run", folder, removed);
  return removed;
}

}  // namespace dmx::io
