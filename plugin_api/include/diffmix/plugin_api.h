/*
 * diffmix plugin ABI.
 *
 * A plugin is a shared library that exports exactly one symbol, `dmx_plugin_entry`. The host calls it with its own
 * ABI version and a table of host services; the plugin returns a descriptor listing the augmenters it offers.
 *
 * Rules that keep this ABI stable:
 *  - Only C types cross the boundary: sized integers, `const char*` (UTF-8, NUL-terminated), function pointers,
 *    the structs below and DLPack tensors. No C++ type, no exception, no allocation freed by the other side.
 *  - Every table but dmx_batch starts with `struct_size`, the size of the struct its writer was built with. Tables
 *    only grow at the end, in minor versions. A reader accepts a table whose `struct_size` is at least the table's
 *    size in the version that introduced it (the DMX_*_SIZE_1_0 constants below), never `sizeof` of its own struct,
 *    which may be newer and larger than the writer's; it reads a field added later only when `struct_size` covers it
 *    (DMX_HAS_FIELD) and otherwise treats it as absent. A different MAJOR version is refused.
 *  - Failures return a dmx_status code and write a NUL-terminated message into the caller's dmx_error buffer.
 *  - Tensors: a DLManagedTensor passed INTO a call is borrowed (the caller keeps ownership and calls its deleter
 *    after the call returns); one returned OUT of a call is owned by the receiver, which calls its deleter.
 *
 * Layouts of every shipped table are pinned by plugin_api_layout.h.
 */
#ifndef DIFFMIX_PLUGIN_API_H
#define DIFFMIX_PLUGIN_API_H

#include <dlpack/dlpack.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMX_ABI_VERSION_MAJOR 1
#define DMX_ABI_VERSION_MINOR 3

/* The name of the one symbol a plugin exports. */
#define DMX_PLUGIN_ENTRY_SYMBOL "dmx_plugin_entry"

#if defined(_WIN32)
#define DMX_PLUGIN_EXPORT __declspec(dllexport)
#else
#define DMX_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

typedef struct dmx_abi_version {
  uint32_t major;
  uint32_t minor;
} dmx_abi_version;

/* ---- status and errors ------------------------------------------------------------------------------------- */

typedef enum dmx_status {
  DMX_STATUS_OK = 0,
  DMX_STATUS_INVALID_ARGUMENT = 1, /* a value passed in is out of range or inconsistent */
  DMX_STATUS_NOT_FOUND = 2,        /* a file, key or class that should exist does not */
  DMX_STATUS_IO = 3,               /* the operating system refused a read or write */
  DMX_STATUS_FORMAT = 4,           /* malformed file contents */
  DMX_STATUS_CONFIG = 5,           /* a bad configuration value */
  DMX_STATUS_SHAPE = 6,            /* a tensor of the wrong shape or dtype */
  DMX_STATUS_UNSUPPORTED = 7,      /* valid input this build cannot handle */
  DMX_STATUS_CANCELLED = 8,        /* the host's cancellation flag was raised */
  DMX_STATUS_OUT_OF_MEMORY = 9,
  DMX_STATUS_INTERNAL = 10,        /* a bug */
  DMX_STATUS_EXHAUSTED = 11,       /* a sample source has nothing more to give */
  DMX_STATUS_BUSY = 12             /* since 1.2: another process holds a shared resource; the work can be retried */
} dmx_status;

#define DMX_ERROR_MESSAGE_CAPACITY 1024

/* The callee writes a NUL-terminated message (truncated to fit) when it returns a status other than OK. */
typedef struct dmx_error {
  char message[DMX_ERROR_MESSAGE_CAPACITY];
} dmx_error;

/* ---- host services ----------------------------------------------------------------------------------------- */

typedef enum dmx_log_level {
  DMX_LOG_TRACE = 0,
  DMX_LOG_DEBUG = 1,
  DMX_LOG_INFO = 2,
  DMX_LOG_WARN = 3,
  DMX_LOG_ERROR = 4
} dmx_log_level;

/* What the host offers every plugin; valid from dmx_plugin_entry until the plugin's deinit returns. */
typedef struct dmx_host {
  uint32_t struct_size;
  dmx_abi_version abi_version;
  void* host_data; /* passed back as the first argument of every callback */
  /* Lands in the host's spdlog sinks under the logger `source` (the plugin or augmenter name). */
  void (*log)(void* host_data, dmx_log_level level, const char* source, const char* message);
  /* Long work reports `done` of `total` units (total 0 when unknown); the host shows count, rate and ETA. */
  void (*progress)(void* host_data, const char* task, uint64_t done, uint64_t total);
  /* Non-zero once the user asked to stop; long work returns DMX_STATUS_CANCELLED at the next safe point. */
  int32_t (*is_cancelled)(void* host_data);
} dmx_host;

/* Read-only view of the training set, for sample sources that need reference images or class names. */
typedef struct dmx_dataset_view {
  uint32_t struct_size;
  void* data;
  int64_t (*size)(void* data);
  int32_t (*num_classes)(void* data);
  const char* (*class_name)(void* data, int32_t class_index); /* valid while the view lives */
  const char* (*metaclass)(void* data);                       /* "bird", "car", "clothing", ... */
  int32_t (*label)(void* data, int64_t index);
  /* Decoded image `index` as uint8 H×W×C (RGB), owned by the caller. */
  dmx_status (*image)(void* data, int64_t index, DLManagedTensor** out, dmx_error* error);
} dmx_dataset_view;

/* Everything one augmenter instance is created with. */
typedef struct dmx_create_info {
  uint32_t struct_size;
  const char* instance_name; /* the augmenter name as configured, for messages */
  const char* config_toml;   /* the augmenter's own TOML table, serialized; validated by the host against the schema */
  int32_t num_classes;
  uint64_t seed;
  DLDevice device;
  const char* cache_dir;            /* a folder this instance may write to; may be empty */
  const dmx_dataset_view* dataset;  /* may be NULL for batch augmenters */
} dmx_create_info;

/* ---- role 1: batch augmenter (CutMix, Mixup) --------------------------------------------------------------- */

/* images: N×C×H×W float; labels: N×K float soft labels (rows sum to 1).
 * Frozen: dmx_batch has no struct_size, so no reader could tell a grown one from this one. It never changes within
 * major version 1; a call that needs more per batch takes a new struct with a struct_size. */
typedef struct dmx_batch {
  DLManagedTensor* images;
  DLManagedTensor* labels;
} dmx_batch;

typedef struct dmx_batch_augmenter_api {
  uint32_t struct_size;
  /* `in` is borrowed; `out` receives new tensors owned by the caller. `step` is the global batch index: the
   * randomness of a batch is a function of (seed, step), so a resumed run repeats it. */
  dmx_status (*apply)(void* instance, const dmx_batch* in, uint64_t step, dmx_batch* out, dmx_error* error);
} dmx_batch_augmenter_api;

/* ---- role 2: sample source (the diffusion family) ---------------------------------------------------------- */

/* One synthetic sample and where it came from. The caller of `next` owns this table and sets `struct_size` to the
 * size of its own struct; the plugin writes only the fields that size covers and sets `struct_size` to the size of
 * what it filled (the smaller of the two structs), so neither side writes or reads past the other's. */
typedef struct dmx_sample {
  uint32_t struct_size;
  DLManagedTensor* image;      /* uint8 H×W×C (RGB), owned by the receiver */
  DLManagedTensor* soft_label; /* float K, owned by the receiver */
  int32_t source_class;        /* class of the reference image, -1 for txt2img */
  int32_t target_class;        /* class of the prompt */
  float strength;              /* SDEdit strength, 1 for txt2img */
  uint64_t seed;
} dmx_sample;

typedef struct dmx_sample_source_api {
  uint32_t struct_size;
  /* Load or fine-tune the model behind the source. Idempotent and resumable: a second call after success returns
   * at once, a call after an interruption continues where the last one stopped. */
  dmx_status (*prepare)(void* instance, dmx_error* error);
  /* Paper mode: make `count` samples into the cache folder `out_dir` (images + manifest). Resumable: samples
   * already in the manifest are not made again. Required, like `prepare`: a source without it is refused at load. */
  dmx_status (*synthesize)(void* instance, const char* out_dir, int64_t count, dmx_error* error);
  /* Streaming mode: the next sample, or DMX_STATUS_EXHAUSTED. May be NULL: the source offers paper mode only, and
   * the host reports a request to stream as unsupported. */
  dmx_status (*next)(void* instance, dmx_sample* out, dmx_error* error);
  /* Since 1.1 (read it only when DMX_HAS_FIELD says the table holds it; may be NULL): the next call to `next`
   * makes sample `index` of the run, so a host that persisted the first `index` streamed samples resumes without
   * making any twice. Samples are numbered as in `synthesize`: sample k is a function of (seed, k). */
  dmx_status (*seek)(void* instance, int64_t index, dmx_error* error);
  /* Since 1.3 (read it only when DMX_HAS_FIELD says the table holds it; may be NULL): one worker's part of a
   * `synthesize` run of `count` samples, for synthesis spread over processes or hosts. Makes samples [begin, end)
   * of that run, numbered and named as there, into the cache folder `out_dir`; resumable like `synthesize`. The
   * caches of parts that cover [0, count), merged in order, are the cache `synthesize` makes. */
  dmx_status (*synthesize_part)(void* instance, const char* out_dir, int64_t count, int64_t begin, int64_t end,
                                dmx_error* error);
} dmx_sample_source_api;

/* ---- factories and the plugin descriptor ------------------------------------------------------------------- */

typedef enum dmx_augmenter_role {
  DMX_ROLE_BATCH_AUGMENTER = 1,
  DMX_ROLE_SAMPLE_SOURCE = 2
} dmx_augmenter_role;

typedef struct dmx_augmenter_factory {
  uint32_t struct_size;
  const char* name;        /* unique across plugins, lower_snake_case: "cutmix" */
  const char* description; /* one line */
  dmx_augmenter_role role;
  /* JSON array describing the keys of the augmenter's TOML table, so the host can check them with file:line:col
   * and suggestions before create:
   *   [{"key":"alpha","type":"float","default":1.0,"min":0.0,"doc":"Beta(alpha, alpha)"}, ...]
   * type is one of "float", "integer", "boolean", "string", "float_list" (an array of numbers, each within min/max)
   * and "table" (a sub-table whose own keys are listed the same way in "keys"); "choices" lists allowed strings. */
  const char* config_schema_json;
  dmx_status (*create)(const dmx_create_info* info, void** instance, dmx_error* error);
  void (*destroy)(void* instance);
  /* Exactly one is non-NULL, matching `role`. */
  const dmx_batch_augmenter_api* batch_augmenter;
  const dmx_sample_source_api* sample_source;
} dmx_augmenter_factory;

typedef struct dmx_plugin_descriptor {
  uint32_t struct_size;
  dmx_abi_version abi_version; /* the version the plugin was built against */
  const char* name;            /* "cutmix" */
  const char* version;         /* the plugin's own version, "1.0.0" */
  const char* description;
  uint32_t augmenter_count;
  const dmx_augmenter_factory* const* augmenters;
  /* Called once before the library is unloaded, after every instance was destroyed. May be NULL. */
  void (*deinit)(void);
} dmx_plugin_descriptor;

/* ---- table sizes of version 1.0 ---------------------------------------------------------------------------- */

/* The end of `field` in `type`: a table whose struct_size is at least this holds the field. */
#define DMX_FIELD_END(type, field) (offsetof(type, field) + sizeof(((type*)0)->field))

/* Whether the table at `table` (a pointer to `type`) holds `field`, which a later minor version may have added;
 * a field it does not hold is absent, as if NULL or zero. */
#define DMX_HAS_FIELD(table, type, field) ((size_t)(table)->struct_size >= DMX_FIELD_END(type, field))

/* The size of each table in ABI 1.0, which introduced them all: the smallest `struct_size` a reader accepts. Each
 * is the end of the table's last 1.0 field, so it holds on every target; plugin_api_layout.h pins the 64-bit
 * values. dmx_batch has no struct_size and is frozen. */
#define DMX_HOST_SIZE_1_0 DMX_FIELD_END(dmx_host, is_cancelled)
#define DMX_DATASET_VIEW_SIZE_1_0 DMX_FIELD_END(dmx_dataset_view, image)
#define DMX_CREATE_INFO_SIZE_1_0 DMX_FIELD_END(dmx_create_info, dataset)
#define DMX_BATCH_AUGMENTER_API_SIZE_1_0 DMX_FIELD_END(dmx_batch_augmenter_api, apply)
#define DMX_SAMPLE_SIZE_1_0 DMX_FIELD_END(dmx_sample, seed)
#define DMX_SAMPLE_SOURCE_API_SIZE_1_0 DMX_FIELD_END(dmx_sample_source_api, next)
#define DMX_AUGMENTER_FACTORY_SIZE_1_0 DMX_FIELD_END(dmx_augmenter_factory, sample_source)
#define DMX_PLUGIN_DESCRIPTOR_SIZE_1_0 DMX_FIELD_END(dmx_plugin_descriptor, deinit)

/* The entry point. Returns NULL and fills `error` when the plugin cannot work with this host. The descriptor
 * stays valid until deinit. */
typedef const dmx_plugin_descriptor* (*dmx_plugin_entry_fn)(const dmx_host* host, dmx_error* error);

#ifdef __cplusplus
}
#endif

#endif /* DIFFMIX_PLUGIN_API_H */
