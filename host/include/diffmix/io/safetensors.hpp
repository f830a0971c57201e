// Safetensors files: the weight format of diffusers, transformers and every LoRA / textual-inversion artifact.
//
//   auto file = dmx::io::SafetensorsFile::open("model/unet/diffusion_pytorch_model.safetensors");
//   for (const auto& name : file.names()) at::Tensor w = file.tensor(name);
//   dmx::io::save_safetensors("out/learned_embeds.safetensors", {{"<class_0>", embedding}});
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}, ...,
// "__metadata__": {string: string}}, then the raw little-endian tensor data. The whole header is validated when the
// file is opened, so that a truncated or hostile file is a dmx::Error naming it and never an out-of-bounds read.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dmx::io {

class SafetensorsFile {
 public:
  // Maps the file and validates its header: length vs file size, JSON, dtypes (F64 F32 F16 BF16 I64 I32 I16 I8 U8
  // BOOL), shape × item size == byte span, offsets inside the data area and not overlapping. Throws dmx::Error
  // (not found / I/O / format) naming the file.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const;
  std::vector<std::string> names() const;  // in the order their data lies in the file
  bool contains(const std::string& name) const;
  at::ScalarType dtype(const std::string& name) const;   // a NotFound error naming the tensor and file if absent
  std::vector<int64_t> shape(const std::string& name) const;
  at::Tensor tensor(const std::string& name) const;      // an owned, contiguous CPU tensor copied out of the mapping
  const std::map<std::string, std::string>& metadata() const;  // "__metadata__" (empty when absent)

  struct Entry {
    at::ScalarType dtype;
    std::vector<int64_t> shape;
    uint64_t begin;  // byte offsets relative to the start of the data area
    uint64_t end;
  };

 private:
  struct Mapping;
  SafetensorsFile() = default;
  const Entry& entry(const std::string& name) const;

  std::string path_;
  std::shared_ptr<const Mapping> mapping_;
  const uint8_t* data_ = nullptr;  // first byte of the data area, inside mapping_
  std::map<std::string, Entry> entries_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (any device, any layout; names unique) atomically: a temp file beside `path`, fsync, rename. A
// failure (full disk, missing folder, no permission) is an I/O dmx::Error naming `path` and leaves no partial file.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace dmx::io
