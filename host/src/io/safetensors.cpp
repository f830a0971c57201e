#include "diffmix/io/safetensors.hpp"

#include "diffmix/error.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>

namespace dmx::io {

namespace {

// The reference implementation refuses headers above 100 MB; so do we, before allocating anything for one.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeName {
  const char* name;
  at::ScalarType type;
};

constexpr DtypeName kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16}, {"I64", at::kLong},
    {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},   {"U8", at::kByte},       {"BOOL", at::kBool},
};

bool dtype_from_name(const std::string& name, at::ScalarType& type) {
  for (const auto& d : kDtypes) {
    if (name == d.name) {
      type = d.type;
      return true;
    }
  }
  return false;
}

const char* dtype_name(at::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  return nullptr;
}

std::string supported_dtype_list() {
  std::string list;
  for (const auto& d : kDtypes) list += (list.empty() ? "" : " ") + std::string(d.name);
  return list;
}

uint64_t read_le64(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// An open file descriptor closed on every path out of a function.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string tensor_label(const std::string& path, const std::string& name) { return path + ": tensor '" + name + "'"; }

// Reads one tensor entry of the header; `data_size` bounds its offsets.
SafetensorsFile::Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& value,
                                   uint64_t data_size) {
  const auto where = tensor_label(path, name);
  if (!value.is_object()) throw dmx::format_error(where + ": header entry must be an object");
  const auto dtype = value.find("dtype");
  const auto shape = value.find("shape");
  const auto offsets = value.find("data_offsets");
  if (dtype == value.end() || !dtype->is_string()) throw dmx::format_error(where + ": 'dtype' must be a string");
  if (shape == value.end() || !shape->is_array()) throw dmx::format_error(where + ": 'shape' must be an array");
  if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned()) {
    throw dmx::format_error(where + ": 'data_offsets' must be [begin, end] with non-negative integers");
  }

  SafetensorsFile::Entry entry{};
  if (!dtype_from_name(dtype->get<std::string>(), entry.dtype)) {
    throw dmx::format_error(where + ": unknown dtype '" + dtype->get<std::string>() + "' (supported: " +
                            supported_dtype_list() + ")");
  }
  uint64_t bytes = at::elementSize(entry.dtype);
  for (const auto& dim : *shape) {
    if (!dim.is_number_unsigned()) throw dmx::format_error(where + ": 'shape' must hold non-negative integers");
    const uint64_t size = dim.get<uint64_t>();
    if (size > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(bytes, size, &bytes)) {
      throw dmx::format_error(where + ": shape " + shape->dump() + " is too large");
    }
    entry.shape.push_back(static_cast<int64_t>(size));
  }
  entry.begin = (*offsets)[0].get<uint64_t>();
  entry.end = (*offsets)[1].get<uint64_t>();
  if (entry.begin > entry.end || entry.end > data_size) {
    throw dmx::format_error(where + ": data_offsets [" + std::to_string(entry.begin) + ", " +
                            std::to_string(entry.end) + "] lie outside the data area of " + std::to_string(data_size) +
                            " bytes (file truncated?)");
  }
  if (entry.end - entry.begin != bytes) {
    throw dmx::format_error(where + ": shape " + shape->dump() + " of " + dtype->get<std::string>() + " needs " +
                            std::to_string(bytes) + " bytes but data_offsets span " +
                            std::to_string(entry.end - entry.begin));
  }
  return entry;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const nlohmann::json& value) {
  if (!value.is_object()) throw dmx::format_error(path + ": '__metadata__' must be an object of strings");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) throw dmx::format_error(path + ": '__metadata__' value '" + key + "' must be a string");
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

}  // namespace

// The memory mapping of the whole file, shared by copies of a SafetensorsFile and unmapped with the last one.
struct SafetensorsFile::Mapping {
  void* address = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (address) ::munmap(address, size);
  }
};

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    if (errno == ENOENT) throw dmx::not_found(path + ": no such safetensors file");
    throw dmx::io_error_from_errno("cannot open " + path);
  }
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) throw dmx::io_error_from_errno("cannot stat " + path);
  if (!S_ISREG(info.st_mode)) throw dmx::format_error(path + ": not a regular file");
  const auto file_size = static_cast<uint64_t>(info.st_size);
  if (file_size < 8) {
    throw dmx::format_error(path + ": truncated safetensors file (" + std::to_string(file_size) +
                            " bytes, the 8-byte header length alone needs more)");
  }

  auto mapping = std::make_shared<Mapping>();
  mapping->address = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, file.fd, 0);
  if (mapping->address == MAP_FAILED) {
    mapping->address = nullptr;
    throw dmx::io_error_from_errno("cannot map " + path);
  }
  mapping->size = file_size;
  const auto* bytes = static_cast<const uint8_t*>(mapping->address);

  const uint64_t header_size = read_le64(bytes);
  if (header_size > file_size - 8) {
    throw dmx::format_error(path + ": header length " + std::to_string(header_size) + " runs past the end of the " +
                            std::to_string(file_size) + "-byte file (truncated or not a safetensors file)");
  }
  if (header_size > kMaxHeaderBytes) {
    throw dmx::format_error(path + ": header length " + std::to_string(header_size) + " exceeds the 100 MB limit");
  }

  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(bytes + 8, bytes + 8 + header_size);
  } catch (const nlohmann::json::exception& e) {
    throw dmx::format_error(path + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) throw dmx::format_error(path + ": header must be a JSON object");

  SafetensorsFile result;
  result.path_ = path;
  const uint64_t data_size = file_size - 8 - header_size;
  std::vector<std::pair<uint64_t, std::string>> by_offset;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      result.metadata_ = parse_metadata(path, value);
      continue;
    }
    result.entries_[name] = parse_entry(path, name, value, data_size);
    by_offset.emplace_back(result.entries_[name].begin, name);
  }

  // Order by position in the data area (header order breaks ties between empty tensors), then reject overlaps.
  std::stable_sort(by_offset.begin(), by_offset.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  uint64_t previous_end = 0;
  std::string previous;
  for (const auto& [begin, name] : by_offset) {
    const auto& e = result.entries_[name];
    if (e.begin < previous_end) {
      throw dmx::format_error(tensor_label(path, name) + ": data [" + std::to_string(e.begin) + ", " +
                              std::to_string(e.end) + ") overlaps tensor '" + previous + "' (ends at " +
                              std::to_string(previous_end) + ")");
    }
    if (e.end > e.begin) {
      previous_end = e.end;
      previous = name;
    }
    result.order_.push_back(name);
  }

  result.data_ = bytes + 8 + header_size;
  result.mapping_ = std::move(mapping);
  return result;
}

const std::string& SafetensorsFile::path() const { return path_; }

std::vector<std::string> SafetensorsFile::names() const { return order_; }

bool SafetensorsFile::contains(const std::string& name) const { return entries_.count(name) != 0; }

const SafetensorsFile::Entry& SafetensorsFile::entry(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) throw dmx::not_found(path_ + ": no tensor named '" + name + "'");
  return it->second;
}

at::ScalarType SafetensorsFile::dtype(const std::string& name) const { return entry(name).dtype; }

std::vector<int64_t> SafetensorsFile::shape(const std::string& name) const { return entry(name).shape; }

namespace {

// Drops the whole pages of [data, data + size) from this process's resident set. They stay in the page cache, and a
// later read maps them in again from the file, so this only changes what the process holds, never what it reads.
void release_pages(const uint8_t* data, size_t size) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + size) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const auto& e = entry(name);
  auto out = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
  if (e.end > e.begin) {
    std::memcpy(out.data_ptr(), data_ + e.begin, e.end - e.begin);
    // The caller keeps the copy: without this, loading a 3.4 GB UNet would hold the mapped file and its copy in
    // memory together until the file is closed.
    release_pages(data_ + e.begin, e.end - e.begin);
  }
  return out;
}

const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return metadata_; }

namespace {

// Writes all of `size` bytes or reports why not.
bool write_all(int fd, const void* data, size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::string parent_folder(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::vector<at::Tensor> contiguous_cpu(const std::string& path,
                                       const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::set<std::string> seen;
  std::vector<at::Tensor> out;
  for (const auto& [name, tensor] : tensors) {
    if (name == kMetadataKey) throw dmx::invalid_argument(path + ": '__metadata__' cannot name a tensor");
    if (!seen.insert(name).second) throw dmx::invalid_argument(path + ": tensor name '" + name + "' given twice");
    if (!tensor.defined()) throw dmx::invalid_argument(tensor_label(path, name) + " is undefined");
    if (!dtype_name(tensor.scalar_type())) {
      throw dmx::unsupported(tensor_label(path, name) + ": dtype " + std::string(c10::toString(tensor.scalar_type())) +
                             " has no safetensors name (supported: " + supported_dtype_list() + ")");
    }
    out.push_back(tensor.detach().to(at::kCPU).contiguous());
  }
  return out;
}

std::string build_header(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                         const std::vector<at::Tensor>& data, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const uint64_t bytes = data[i].numel() * data[i].element_size();
    header[tensors[i].first] = {{"dtype", dtype_name(data[i].scalar_type())},
                                {"shape", data[i].sizes().vec()},
                                {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Readers that map the file expect the data area to start 8-byte aligned; the format pads with spaces.
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const auto data = contiguous_cpu(path, tensors);
  const std::string header = build_header(tensors, data, metadata);

  // The ".tmp-" mark is the one io::remove_abandoned_temporaries looks for after a kill.
  std::string temp = path + ".tmp-XXXXXX";
  Fd file{::mkstemp(temp.data())};
  if (file.fd < 0) throw dmx::io_error_from_errno("cannot create a temporary file for " + path);
  const auto fail = [&](const std::string& what) {
    const auto error = dmx::io_error_from_errno(what + " " + path);
    ::unlink(temp.c_str());
    return error;
  };

  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
  bool ok = write_all(file.fd, length, sizeof length) && write_all(file.fd, header.data(), header.size());
  for (size_t i = 0; ok && i < data.size(); ++i) {
    ok = write_all(file.fd, data[i].data_ptr(), data[i].numel() * data[i].element_size());
  }
  if (!ok) throw fail("cannot write");
  // mkstemp creates an owner-only file; the finished file gets the usual rw-r--r-- of any other output.
  if (::fchmod(file.fd, 0644) != 0 || ::fsync(file.fd) != 0) throw fail("cannot flush");
  const int fd = file.fd;
  file.fd = -1;
  if (::close(fd) != 0) throw fail("cannot close");
  if (std::rename(temp.c_str(), path.c_str()) != 0) throw fail("cannot move the finished file to");

  // Make the rename itself durable; failing to sync the folder loses nothing already written, so it is not an error.
  Fd folder{::open(parent_folder(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (folder.fd >= 0) ::fsync(folder.fd);
}

}  // namespace dmx::io
