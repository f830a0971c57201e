// The C++ way to write a diffmix plugin: one class per augmenter and one export macro.
//
//   class CutMix {
//    public:
//     static constexpr const char* kName = "cutmix";
//     static constexpr const char* kDescription = "CutMix: paste a box of another image, mix labels by area";
//     static constexpr const char* kConfigSchema = R"([{"key":"alpha","type":"float","default":1.0,"min":0}])";
//     explicit CutMix(const dmx::plugin::Context& context);
//     dmx::Batch apply(const dmx::Batch& batch, uint64_t step);
//   };
//   DMX_PLUGIN("cutmix", "1.0.0", "CutMix batch augmentation", dmx::plugin::batch_augmenter<CutMix>())
//
// A sample source derives from nothing either; it provides `void prepare()` and `void synthesize(const std::string&
// out_dir, int64_t count)`, optionally `std::optional<dmx::plugin::Sample> next()` (without it the source offers
// paper mode only and cannot stream) and `void seek(int64_t index)` (the next sample next() makes; without it the
// host cannot resume a stream), and is exported with dmx::plugin::sample_source<T>().
//
// The host's tables are accepted from their ABI 1.0 size up (DMX_*_SIZE_1_0 in plugin_api.h), never checked
// against sizeof of this header's structs, which may be newer than the host's.
//
// Exceptions never cross the ABI: dmx::Error becomes the status of its category, std::bad_alloc becomes
// DMX_STATUS_OUT_OF_MEMORY, anything else DMX_STATUS_INTERNAL, each with its message.
#pragma once

#include <ATen/ATen.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <type_traits>

#include "diffmix/batch.hpp"
#include "diffmix/dlpack.hpp"
#include "diffmix/error.hpp"
#include "diffmix/plugin_api.h"

namespace dmx::plugin {

// ---- tensors across the boundary ------------------------------------------------------------------------------

// A zero-copy view of a borrowed DLPack tensor. Valid only during the call that lent it: clone() to keep it.
inline at::Tensor view_dlpack(const DLManagedTensor* managed) { return dlpack::view_tensor(managed); }

// Hands a tensor to the other side; the receiver calls the DLPack deleter.
inline DLManagedTensor* export_dlpack(const at::Tensor& tensor) { return dlpack::export_tensor(tensor); }

// ---- errors ---------------------------------------------------------------------------------------------------

inline dmx_status status_of(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::InvalidArgument: return DMX_STATUS_INVALID_ARGUMENT;
    case ErrorCategory::NotFound: return DMX_STATUS_NOT_FOUND;
    case ErrorCategory::Io: return DMX_STATUS_IO;
    case ErrorCategory::Format: return DMX_STATUS_FORMAT;
    case ErrorCategory::Config: return DMX_STATUS_CONFIG;
    case ErrorCategory::Shape: return DMX_STATUS_SHAPE;
    case ErrorCategory::Unsupported: return DMX_STATUS_UNSUPPORTED;
    case ErrorCategory::Cancelled: return DMX_STATUS_CANCELLED;
    case ErrorCategory::Busy: return DMX_STATUS_BUSY;
    case ErrorCategory::Plugin:
    case ErrorCategory::Internal: return DMX_STATUS_INTERNAL;
  }
  return DMX_STATUS_INTERNAL;
}

// The other way: the category a status from across the boundary stands for. Statuses with no category of their
// own (INTERNAL, OUT_OF_MEMORY, a value from a later ABI) become `unknown`.
inline ErrorCategory category_of(dmx_status status, ErrorCategory unknown = ErrorCategory::Plugin) {
  switch (status) {
    case DMX_STATUS_INVALID_ARGUMENT: return ErrorCategory::InvalidArgument;
    case DMX_STATUS_NOT_FOUND: return ErrorCategory::NotFound;
    case DMX_STATUS_IO: return ErrorCategory::Io;
    case DMX_STATUS_FORMAT: return ErrorCategory::Format;
    case DMX_STATUS_CONFIG: return ErrorCategory::Config;
    case DMX_STATUS_SHAPE: return ErrorCategory::Shape;
    case DMX_STATUS_UNSUPPORTED: return ErrorCategory::Unsupported;
    case DMX_STATUS_CANCELLED: return ErrorCategory::Cancelled;
    case DMX_STATUS_BUSY: return ErrorCategory::Busy;
    default: return unknown;
  }
}

inline void write_message(dmx_error* error, const char* message) {
  if (!error) return;
  std::snprintf(error->message, sizeof(error->message), "%s", message);
}

// Runs `body`, converting any exception into a status and a message.
template <typename Body>
dmx_status guarded(dmx_error* error, Body&& body) noexcept {
  try {
    body();
    return DMX_STATUS_OK;
  } catch (const Error& e) {
    write_message(error, e.what());
    return status_of(e.category());
  } catch (const std::bad_alloc&) {
    write_message(error, "out of memory");
    return DMX_STATUS_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    write_message(error, e.what());
    return DMX_STATUS_INTERNAL;
  } catch (...) {
    write_message(error, "unknown exception");
    return DMX_STATUS_INTERNAL;
  }
}

// ---- host services --------------------------------------------------------------------------------------------

namespace detail {
inline const dmx_host*& host_slot() {
  static const dmx_host* host = nullptr;
  return host;
}
}  // namespace detail

// The augmenter's TOML table. The host has already checked it against kConfigSchema, so a wrong type here means
// the plugin is used by a host that does not validate; it is still reported, never guessed.
class Config {
 public:
  Config(const char* toml_text, std::string owner) : owner_(std::move(owner)) {
    try {
      table_ = toml::parse(toml_text ? toml_text : "");
    } catch (const toml::parse_error& e) {
      throw config_error(owner_ + ": cannot parse configuration: " + std::string(e.description()));
    }
  }

  double number(const char* key, double fallback) const {
    const auto* node = table_.get(key);
    if (!node) return fallback;
    if (auto v = node->value<double>()) return *v;
    throw config_error(owner_ + ": key '" + key + "' must be a number");
  }
  int64_t integer(const char* key, int64_t fallback) const {
    const auto* node = table_.get(key);
    if (!node) return fallback;
    if (auto v = node->value_exact<int64_t>()) return *v;
    throw config_error(owner_ + ": key '" + key + "' must be an integer");
  }
  bool boolean(const char* key, bool fallback) const {
    const auto* node = table_.get(key);
    if (!node) return fallback;
    if (auto v = node->value_exact<bool>()) return *v;
    throw config_error(owner_ + ": key '" + key + "' must be true or false");
  }
  std::string string(const char* key, const std::string& fallback) const {
    const auto* node = table_.get(key);
    if (!node) return fallback;
    if (auto v = node->value_exact<std::string>()) return *v;
    throw config_error(owner_ + ": key '" + key + "' must be a string");
  }
  const toml::table& table() const { return table_; }

 private:
  std::string owner_;
  toml::table table_;
};

namespace detail {

// Refuses a host table smaller than its ABI 1.0 size: its 1.0 fields, which this layer reads, would not be there.
inline void require_1_0_size(uint32_t struct_size, size_t size_1_0, const char* table) {
  if (struct_size < size_1_0)
    throw invalid_argument(std::string("the host's ") + table + " is " + std::to_string(struct_size) +
                           " bytes, smaller than the " + std::to_string(size_1_0) + " bytes of ABI 1.0");
}

// A copy of a host table that reads no further than its struct_size: an older host's table is smaller than this
// header's struct, and the fields it lacks stay zero, which the ABI reads as absent.
template <typename Table>
Table copy_of_host_table(const Table& table) {
  Table copy{};
  const size_t size = std::min<size_t>(table.struct_size, sizeof(Table));
  std::memcpy(static_cast<void*>(&copy), &table, size);
  copy.struct_size = static_cast<uint32_t>(size);
  return copy;
}

inline dmx_create_info checked_create_info(const dmx_create_info& info) {
  require_1_0_size(info.struct_size, DMX_CREATE_INFO_SIZE_1_0, "dmx_create_info");
  if (info.dataset) require_1_0_size(info.dataset->struct_size, DMX_DATASET_VIEW_SIZE_1_0, "dmx_dataset_view");
  return copy_of_host_table(info);
}

}  // namespace detail

// What an augmenter instance is created with, plus the host's logging, progress and cancellation.
class Context {
 public:
  // Throws dmx::Error (InvalidArgument) when the host's create info or dataset view is smaller than in ABI 1.0.
  explicit Context(const dmx_create_info& info)
      : info_(detail::checked_create_info(info)),
        name_(info_.instance_name ? info_.instance_name : ""),
        config_text_(info_.config_toml ? info_.config_toml : ""),
        config_(info_.config_toml, name_) {}

  const std::string& name() const { return name_; }
  const Config& config() const { return config_; }
  // The augmenter's table as the host serialized it, for a plugin that reads it with its own TOML reader.
  const std::string& config_text() const { return config_text_; }
  int32_t num_classes() const { return info_.num_classes; }
  uint64_t seed() const { return info_.seed; }
  at::Device device() const {
    return info_.device.device_type == kDLCUDA ? at::Device(at::kCUDA, static_cast<int16_t>(info_.device.device_id))
                                               : at::Device(at::kCPU);
  }
  std::string cache_dir() const { return info_.cache_dir ? info_.cache_dir : ""; }
  const dmx_dataset_view* dataset() const { return info_.dataset; }

  void log(dmx_log_level level, const std::string& message) const {
    const dmx_host* host = detail::host_slot();
    if (host && host->log) host->log(host->host_data, level, name_.c_str(), message.c_str());
  }
  void progress(const char* task, uint64_t done, uint64_t total) const {
    const dmx_host* host = detail::host_slot();
    if (host && host->progress) host->progress(host->host_data, task, done, total);
  }
  bool cancelled() const {
    const dmx_host* host = detail::host_slot();
    return host && host->is_cancelled && host->is_cancelled(host->host_data) != 0;
  }

 private:
  dmx_create_info info_;
  std::string name_;
  std::string config_text_;
  Config config_;
};

// One synthetic sample produced by a sample source.
struct Sample {
  at::Tensor image;       // uint8 H×W×C
  at::Tensor soft_label;  // float K
  int32_t source_class = -1;
  int32_t target_class = 0;
  float strength = 1.0f;
  uint64_t seed = 0;
};

// ---- factories ------------------------------------------------------------------------------------------------

namespace detail {

template <typename T>
dmx_status create(const dmx_create_info* info, void** instance, dmx_error* error) {
  return guarded(error, [&] {
    if (!info || !instance) throw invalid_argument("create: NULL argument");
    *instance = new T(Context(*info));
  });
}

template <typename T>
void destroy(void* instance) {
  delete static_cast<T*>(instance);
}

template <typename T>
dmx_status apply_batch(void* instance, const dmx_batch* in, uint64_t step, dmx_batch* out, dmx_error* error) {
  return guarded(error, [&] {
    if (!in || !out) throw invalid_argument("apply: NULL batch");
    const Batch input{view_dlpack(in->images), view_dlpack(in->labels)};
    Batch result = static_cast<T*>(instance)->apply(input, step);
    out->images = export_dlpack(result.images);
    out->labels = export_dlpack(result.labels);
  });
}

template <typename T>
dmx_status prepare(void* instance, dmx_error* error) {
  return guarded(error, [&] { static_cast<T*>(instance)->prepare(); });
}

template <typename T>
dmx_status synthesize(void* instance, const char* out_dir, int64_t count, dmx_error* error) {
  return guarded(error, [&] { static_cast<T*>(instance)->synthesize(out_dir ? out_dir : "", count); });
}

template <typename T>
dmx_status synthesize_part(void* instance, const char* out_dir, int64_t count, int64_t begin, int64_t end,
                           dmx_error* error) {
  return guarded(error, [&] {
    if (begin < 0 || begin > end || end > count)
      throw invalid_argument("synthesize_part: samples [" + std::to_string(begin) + ", " + std::to_string(end) +
                             ") are not a part of a run of " + std::to_string(count));
    static_cast<T*>(instance)->synthesize_part(out_dir ? out_dir : "", count, begin, end);
  });
}

template <typename T>
dmx_status next_sample(void* instance, dmx_sample* out, dmx_error* error) {
  dmx_status exhausted = DMX_STATUS_OK;
  const dmx_status status = guarded(error, [&] {
    if (!out) throw invalid_argument("next: NULL sample");
    // The host owns `out`: every field written below is a 1.0 field, inside any table of at least the 1.0 size.
    require_1_0_size(out->struct_size, DMX_SAMPLE_SIZE_1_0, "dmx_sample");
    std::optional<Sample> sample = static_cast<T*>(instance)->next();
    if (!sample) {
      exhausted = DMX_STATUS_EXHAUSTED;
      return;
    }
    out->struct_size = static_cast<uint32_t>(std::min<size_t>(out->struct_size, sizeof(dmx_sample)));
    out->image = export_dlpack(sample->image);
    out->soft_label = export_dlpack(sample->soft_label);
    out->source_class = sample->source_class;
    out->target_class = sample->target_class;
    out->strength = sample->strength;
    out->seed = sample->seed;
  });
  return status == DMX_STATUS_OK ? exhausted : status;
}

template <typename T>
dmx_status seek_sample(void* instance, int64_t index, dmx_error* error) {
  return guarded(error, [&] {
    if (index < 0) throw invalid_argument("seek: negative sample index " + std::to_string(index));
    static_cast<T*>(instance)->seek(index);
  });
}

// Whether T offers `seek(int64_t)`.
template <typename T, typename = void>
struct has_seek : std::false_type {};
template <typename T>
struct has_seek<T, std::void_t<decltype(std::declval<T&>().seek(int64_t{0}))>> : std::true_type {};

template <typename T>
constexpr auto seek_function() -> decltype(&seek_sample<T>) {
  if constexpr (has_seek<T>::value) return &seek_sample<T>;
  else return nullptr;
}

// Whether T offers `synthesize_part(out_dir, count, begin, end)`; a source without it synthesizes in one process.
template <typename T, typename = void>
struct has_synthesize_part : std::false_type {};
template <typename T>
struct has_synthesize_part<T, std::void_t<decltype(std::declval<T&>().synthesize_part(
                                  std::string{}, int64_t{0}, int64_t{0}, int64_t{0}))>> : std::true_type {};

template <typename T>
constexpr auto synthesize_part_function() -> decltype(&synthesize_part<T>) {
  if constexpr (has_synthesize_part<T>::value) return &synthesize_part<T>;
  else return nullptr;
}

// Whether T offers `next()`; a source without it offers paper mode only.
template <typename T, typename = void>
struct has_next : std::false_type {};
template <typename T>
struct has_next<T, std::void_t<decltype(std::declval<T&>().next())>> : std::true_type {};

template <typename T>
constexpr auto next_function() -> decltype(&next_sample<T>) {
  if constexpr (has_next<T>::value) return &next_sample<T>;
  else return nullptr;
}

}  // namespace detail

template <typename T>
const dmx_augmenter_factory* batch_augmenter() {
  static const dmx_batch_augmenter_api api{sizeof(dmx_batch_augmenter_api), &detail::apply_batch<T>};
  static const dmx_augmenter_factory factory{sizeof(dmx_augmenter_factory), T::kName, T::kDescription,
                                             DMX_ROLE_BATCH_AUGMENTER, T::kConfigSchema, &detail::create<T>,
                                             &detail::destroy<T>, &api, nullptr};
  return &factory;
}

template <typename T>
const dmx_augmenter_factory* sample_source() {
  static const dmx_sample_source_api api{sizeof(dmx_sample_source_api), &detail::prepare<T>, &detail::synthesize<T>,
                                         detail::next_function<T>(), detail::seek_function<T>(),
                                         detail::synthesize_part_function<T>()};
  static const dmx_augmenter_factory factory{sizeof(dmx_augmenter_factory), T::kName, T::kDescription,
                                             DMX_ROLE_SAMPLE_SOURCE, T::kConfigSchema, &detail::create<T>,
                                             &detail::destroy<T>, nullptr, &api};
  return &factory;
}

// Checks the host's ABI version and fills the descriptor; what DMX_PLUGIN's entry function does.
inline const dmx_plugin_descriptor* describe(const dmx_host* host, dmx_error* error, dmx_plugin_descriptor* descriptor) {
  if (!host) {
    write_message(error, "the host gave no services table");
    return nullptr;
  }
  if (host->struct_size < DMX_HOST_SIZE_1_0) {
    char message[160];
    std::snprintf(message, sizeof(message),
                  "the host's services table is %u bytes, smaller than the %zu bytes of ABI 1.0", host->struct_size,
                  static_cast<size_t>(DMX_HOST_SIZE_1_0));
    write_message(error, message);
    return nullptr;
  }
  if (host->abi_version.major != DMX_ABI_VERSION_MAJOR) {
    char message[160];
    std::snprintf(message, sizeof(message), "plugin built for ABI %u.%u, host offers %u.%u", DMX_ABI_VERSION_MAJOR,
                  DMX_ABI_VERSION_MINOR, host->abi_version.major, host->abi_version.minor);
    write_message(error, message);
    return nullptr;
  }
  detail::host_slot() = host;
  return descriptor;
}

}  // namespace dmx::plugin

// Exports the plugin's one symbol. The trailing arguments are the factories of the augmenters it offers.
#define DMX_PLUGIN(NAME, VERSION, DESCRIPTION, ...)                                                              \
  extern "C" DMX_PLUGIN_EXPORT const dmx_plugin_descriptor* dmx_plugin_entry(const dmx_host* host,               \
                                                                              dmx_error* error) {                \
    static const dmx_augmenter_factory* const factories[] = {__VA_ARGS__};                                      \
    static dmx_plugin_descriptor descriptor{sizeof(dmx_plugin_descriptor),                                       \
                                           {DMX_ABI_VERSION_MAJOR, DMX_ABI_VERSION_MINOR},                       \
                                           NAME,                                                                 \
                                           VERSION,                                                              \
                                           DESCRIPTION,                                                          \
                                           static_cast<uint32_t>(sizeof(factories) / sizeof(factories[0])),      \
                                           factories,                                                            \
                                           nullptr};                                                             \
    return ::dmx::plugin::describe(host, error, &descriptor);                                                    \
  }
