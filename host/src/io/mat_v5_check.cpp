// The MATLAB 5 layout, as far as the check needs it:
//
//   header (128 bytes): text, subsystem offset, version 0x0100 at byte 124, endian mark "IM" or "MI" at byte 126
//   data element: tag (type: uint32, bytes: uint32) + data padded to 8 bytes, or a "small" element whose tag holds
//                 bytes (high 16 bits) and type (low 16 bits) in one word, followed by at most 4 bytes of data
//   miCOMPRESSED element: zlib stream inflating to further data elements (not padded)
//   miMATRIX element: array flags, dimensions, name, then per class: the real (and imaginary) numbers; the characters;
//                     one miMATRIX per cell; or the field name length, the field names and one miMATRIX per field of
//                     every element.
#include "mat_v5_check.hpp"

#include <zlib.h>

#include <cstdint>
#include <limits>
#include <string>

#include "diffmix/error.hpp"

namespace dmx::io {
namespace {

enum DataType : uint32_t {
  kInt8 = 1, kUInt8 = 2, kInt16 = 3, kUInt16 = 4, kInt32 = 5, kUInt32 = 6, kSingle = 7, kDouble = 9, kInt64 = 12,
  kUInt64 = 13, kMatrix = 14, kCompressed = 15, kUtf8 = 16, kUtf16 = 17, kUtf32 = 18
};
enum ArrayClass : uint32_t { kCell = 1, kStruct = 2, kObject = 3, kChar = 4, kSparse = 5, kFirstNumeric = 6,
                             kLastNumeric = 15 };

constexpr size_t kHeaderBytes = 128;
// Far above any annotation file (Stanford Cars' largest inflates to a few MB), far below what hurts.
constexpr size_t kMaxInflatedBytes = size_t{256} << 20;
constexpr int kMaxNesting = 32;
constexpr size_t kTagBytes = 8;  // also the least a nested miMATRIX element takes

size_t bytes_per_number(uint32_t type) {
  switch (type) {
    case kInt8: case kUInt8: return 1;
    case kInt16: case kUInt16: return 2;
    case kInt32: case kUInt32: case kSingle: return 4;
    case kDouble: case kInt64: case kUInt64: return 8;
    default: return 0;
  }
}

size_t bytes_per_character(uint32_t type) {
  switch (type) {
    case kUtf8: return 1;
    case kUtf16: return 2;
    case kUtf32: return 4;
    default: return bytes_per_number(type);
  }
}

struct Element {
  uint32_t type = 0;
  std::string_view data;
  size_t offset = 0;  // of the tag, within the span being walked
};

// Walks the data elements of one span: the file after its header, or one inflated miCOMPRESSED element.
class Walker {
 public:
  // `where` says which span this is in messages ("" for the file itself).
  Walker(const std::string& path, bool big_endian, std::string where)
      : path_(path), big_endian_(big_endian), where_(std::move(where)) {}

  [[noreturn]] void fail(size_t offset, const std::string& problem) const {
    throw format_error(path_ + ": " + where_ + "byte " + std::to_string(offset) + ": " + problem);
  }

  uint32_t word(std::string_view bytes, size_t at) const {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const auto byte = static_cast<uint8_t>(bytes[at + (big_endian_ ? i : 3 - i)]);
      value = (value << 8) | byte;
    }
    return value;
  }

  // The data element at `pos` in `span` (whose first byte is at `base` in this walker's span); advances `pos`.
  Element next(std::string_view span, size_t base, size_t& pos, bool padded = true) const {
    const size_t at = base + pos;
    if (span.size() - pos < kTagBytes) fail(at, "a data element's tag is cut off (the file is truncated)");
    Element element;
    element.offset = at;
    const uint32_t first = word(span, pos);
    if (first >> 16) {  // small element: bytes and type share the first word, the data fits in the second
      element.type = first & 0xFFFF;
      const uint32_t bytes = first >> 16;
      if (bytes > 4) fail(at, "a small data element claims " + std::to_string(bytes) + " bytes (at most 4 fit)");
      element.data = span.substr(pos + 4, bytes);
      pos += kTagBytes;
      return element;
    }
    element.type = first;
    const size_t bytes = word(span, pos + 4);
    const size_t left = span.size() - pos - kTagBytes;
    if (bytes > left)
      fail(at, "a data element of type " + std::to_string(first) + " claims " + std::to_string(bytes) +
                   " bytes, but only " + std::to_string(left) + " follow");
    element.data = span.substr(pos + kTagBytes, bytes);
    pos += kTagBytes + bytes;
    if (padded) pos = std::min(span.size(), pos + (8 - bytes % 8) % 8);
    return element;
  }

  void check_matrix(const Element& matrix, int nesting) const {
    if (nesting > kMaxNesting)
      fail(matrix.offset, "arrays nest more than " + std::to_string(kMaxNesting) + " deep");
    const std::string_view span = matrix.data;
    if (span.empty()) return;  // an empty array
    const size_t base = matrix.offset + kTagBytes;
    size_t pos = 0;

    const Element flags = next(span, base, pos);
    if (flags.type != kUInt32 || flags.data.size() < 8) fail(flags.offset, "an array does not start with its flags");
    const uint32_t array_class = word(flags.data, 0) & 0xFF;
    const bool complex = (word(flags.data, 0) & 0x800) != 0;
    check_class(array_class, flags.offset);

    const Element dims = next(span, base, pos);
    if (dims.type != kInt32 || dims.data.size() < 8 || dims.data.size() % 4 != 0)
      fail(dims.offset, "an array's dimensions are not two or more 32-bit integers");
    const uint64_t count = element_count(dims);
    next(span, base, pos);  // the name: any bytes

    const auto remaining = [&] { return span.size() - pos; };
    if (array_class == kCell || array_class == kStruct) {
      uint64_t children = count;
      if (array_class == kStruct) children *= struct_fields(span, base, pos);
      if (children > remaining() / kTagBytes)
        fail(dims.offset, "an array claims " + std::to_string(children) + " nested arrays, but only " +
                              std::to_string(remaining()) + " bytes follow");
      for (uint64_t i = 0; i < children; ++i) {
        const Element child = next(span, base, pos);
        if (child.type != kMatrix) fail(child.offset, "a cell or struct field is not an array");
        check_matrix(child, nesting + 1);
      }
      return;
    }
    if (count == 0 && pos == span.size()) return;
    const Element real = next(span, base, pos);
    check_data(real, count, array_class == kChar);
    if (complex && array_class != kChar) check_data(next(span, base, pos), count, false);
  }

 private:
  void check_class(uint32_t array_class, size_t offset) const {
    if (array_class == kSparse) fail(offset, "a sparse array, which diffmix does not read");
    if (array_class == kObject || array_class > kLastNumeric)
      fail(offset, "a MATLAB object or function handle (class " + std::to_string(array_class) +
                       "), which diffmix does not read");
    if (array_class == 0) fail(offset, "an array of unknown class 0");
  }

  uint64_t element_count(const Element& dims) const {
    uint64_t count = 1;
    for (size_t at = 0; at < dims.data.size(); at += 4) {
      const auto extent = static_cast<int32_t>(word(dims.data, at));
      if (extent < 0) fail(dims.offset, "an array has a negative dimension (" + std::to_string(extent) + ")");
      // Any count above 2^40 is far beyond the bytes of any file, so the product is capped there (no overflow).
      count = std::min<uint64_t>(count * static_cast<uint64_t>(extent), uint64_t{1} << 40);
    }
    return count;
  }

  // Reads a struct's field name length and names; the number of fields.
  uint64_t struct_fields(std::string_view span, size_t base, size_t& pos) const {
    const Element length = next(span, base, pos);
    if (length.type != kInt32 || length.data.size() != 4)
      fail(length.offset, "a struct's field name length is not one 32-bit integer");
    const uint32_t name_bytes = word(length.data, 0);
    const Element names = next(span, base, pos);
    if (names.type != kInt8) fail(names.offset, "a struct's field names are not 8-bit characters");
    if (name_bytes == 0) {
      if (!names.data.empty()) fail(length.offset, "a struct's field name length is 0");
      return 0;
    }
    return names.data.size() / name_bytes;
  }

  // The numbers (or characters) of an array of `count` elements.
  void check_data(const Element& data, uint64_t count, bool characters) const {
    const size_t size = characters ? bytes_per_character(data.type) : bytes_per_number(data.type);
    if (size == 0)
      fail(data.offset, "array data of type " + std::to_string(data.type) + " is not " +
                            (characters ? "characters" : "numbers"));
    // UTF-8 may take several bytes per character, never fewer than one.
    if (count > data.data.size() / size)
      fail(data.offset, "an array of " + std::to_string(count) + " elements holds only " +
                            std::to_string(data.data.size()) + " bytes of data");
  }

  const std::string& path_;
  bool big_endian_;
  std::string where_;
};

// The bytes a zlib stream inflates to, refused above `limit` bytes.
std::string inflate_capped(const Walker& file, const Element& element, size_t limit) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) file.fail(element.offset, "zlib cannot start inflating");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(element.data.data()));
  stream.avail_in = static_cast<uInt>(element.data.size());
  std::string out;
  int status = Z_OK;
  while (status == Z_OK && out.size() <= limit) {
    const size_t chunk = 64 * 1024;
    const size_t before = out.size();
    out.resize(before + chunk);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    stream.avail_out = static_cast<uInt>(chunk);
    status = inflate(&stream, Z_NO_FLUSH);
    out.resize(before + chunk - stream.avail_out);
    if (status == Z_BUF_ERROR && stream.avail_in == 0) break;  // the input ended before the stream did
  }
  const std::string message = stream.msg ? stream.msg : "";
  inflateEnd(&stream);
  if (out.size() > limit)
    file.fail(element.offset, "compressed data inflates to more than " + std::to_string(limit >> 20) +
                                  " MiB, far beyond an annotation file");
  if (status != Z_STREAM_END && status != Z_OK && status != Z_BUF_ERROR)
    file.fail(element.offset, "compressed data is corrupt (zlib: " + (message.empty() ? "error" : message) + ")");
  if (status != Z_STREAM_END) file.fail(element.offset, "compressed data ends before its zlib stream does");
  return out;
}

// Checks every miMATRIX element of `span`; the others (there are none in files MATLAB writes) are skipped.
void check_elements(const Walker& walker, std::string_view span, size_t base) {
  size_t pos = 0;
  while (span.size() - pos >= kTagBytes) {
    const Element element = walker.next(span, base, pos);
    if (element.type == kMatrix) walker.check_matrix(element, 0);
  }
}

}  // namespace

void check_mat_v5(const std::string& path, std::string_view bytes) {
  if (bytes.size() < kHeaderBytes)
    throw format_error(path + ": not a MATLAB .mat file (shorter than the 128-byte MATLAB 5 header)");
  const std::string_view mark = bytes.substr(126, 2);
  if (mark != "IM" && mark != "MI")
    throw format_error(path + ": not a MATLAB 5 .mat file (no endian mark 'IM' or 'MI' at byte 126); diffmix " +
                       "reads the MATLAB 5 format that save(..., '-v7') writes");
  const bool big_endian = mark == "MI";
  const auto version = static_cast<uint16_t>(
      big_endian ? (static_cast<uint8_t>(bytes[124]) << 8) | static_cast<uint8_t>(bytes[125])
                 : (static_cast<uint8_t>(bytes[125]) << 8) | static_cast<uint8_t>(bytes[124]));
  if (version == 0x0200)
    throw format_error(path + ": a MATLAB v7.3 (HDF5) .mat file; diffmix reads the MATLAB 5 format: save it again " +
                       "with save(..., '-v7')");
  if (version != 0x0100)
    throw format_error(path + ": unknown .mat version " + std::to_string(version) + " at byte 124 (MATLAB 5 is 256)");

  const Walker file(path, big_endian, "");
  const std::string_view body = bytes.substr(kHeaderBytes);
  size_t inflated_total = 0;
  size_t pos = 0;
  while (body.size() - pos >= kTagBytes) {
    const Element element = file.next(body, kHeaderBytes, pos, /*padded=*/false);
    if (element.type == kMatrix) {
      file.check_matrix(element, 0);
    } else if (element.type == kCompressed) {
      const std::string inflated = inflate_capped(file, element, kMaxInflatedBytes - inflated_total);
      inflated_total += inflated.size();
      const Walker inner(path, big_endian, "the compressed variable at byte " + std::to_string(element.offset) +
                                               ", inflated ");
      check_elements(inner, inflated, 0);
    }
  }
}

}  // namespace dmx::io
