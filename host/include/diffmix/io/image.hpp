// Image files: decode JPEG (libjpeg-turbo) and PNG (libpng) into uint8 H×W×C tensors, encode and write them back.
//
//   dmx::io::DecodeOptions options;
//   options.min_size = 256;                        // let JPEG decode at 1/2, 1/4 or 1/8 scale when that is enough
//   at::Tensor rgb = dmx::io::read_image("cub/images/001/x.jpg", options);
//   dmx::io::write_image("out/sample.png", rgb);   // atomic: temp file + rename
//
// Images in memory are contiguous uint8 tensors of shape H×W×C with C = 1 (gray) or 3 (RGB). Every failure (missing
// file, corrupt data, full disk) is a dmx::Error that names the file.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dmx::io {

enum class ImageFormat { Png, Jpeg };

struct DecodeOptions {
  // 3: RGB (gray is repeated, alpha dropped); 1: gray (RGB converted with ITU-R 601 weights); 0: as stored (1 or 3).
  int channels = 3;
  // When > 0, a JPEG may be decoded at a reduced scale (1/2, 1/4, 1/8 via the DCT) as long as both sides stay
  // >= min_size. A later resize to min_size gives nearly the same pixels at a fraction of the cost. 0: full size.
  int64_t min_size = 0;
};

// Detects the format from the first bytes (not the file name). Throws a format error naming `name` otherwise.
ImageFormat detect_image_format(const uint8_t* data, size_t size, const std::string& name);

// Decodes JPEG or PNG bytes; `name` (usually the file path) is used in error messages.
at::Tensor decode_image(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options = {});
at::Tensor decode_image(const std::vector<uint8_t>& bytes, const std::string& name, const DecodeOptions& options = {});

// Reads and decodes a file.
at::Tensor read_image(const std::string& path, const DecodeOptions& options = {});

// Encodes an H×W×C uint8 tensor (C = 1, 3 or 4 for PNG; 1 or 3 for JPEG). A shape error names `name`.
std::vector<uint8_t> encode_png(const at::Tensor& image, const std::string& name = "image");
std::vector<uint8_t> encode_jpeg(const at::Tensor& image, int quality = 95, const std::string& name = "image");

// Writes an image; the format follows the extension (.png, .jpg, .jpeg, case-insensitive). The file appears
// complete or not at all: bytes go to a temporary file in the same folder, are flushed, then renamed over `path`.
void write_image(const std::string& path, const at::Tensor& image, int jpeg_quality = 95);

// Whole-file helpers used by the image and dataset readers.
std::vector<uint8_t> read_file(const std::string& path);
// The whole file as text, or an empty string when it does not exist yet (a manifest or score file a run will
// create); any other failure is an I/O error naming `path`.
std::string read_text_if_exists(const std::string& path);
// Atomic write (temp + fsync + rename). A full disk or a missing folder is an I/O error naming `path`.
void write_file_atomic(const std::string& path, const void* data, size_t size);
// Removes the temporary files that atomic writes of a killed process left in `folder` (not its subfolders), and
// returns how many. Only for a folder no other process writes to at the same time.
int64_t remove_abandoned_temporaries(const std::string& folder);

// Converts between channel counts of a uint8 H×W×C image: 1 → 3 repeats gray, 3/4 → 1 uses ITU-R 601 weights,
// 4 → 3 drops alpha. Returns the input when it already has `channels`.
at::Tensor convert_channels(const at::Tensor& image, int channels);

}  // namespace dmx::io
