/* A plugin as it was built against ABI 1.0: its descriptor says 1.0 and every table has its 1.0 layout, declared
 * here as raw C structs rather than taken from plugin_api.h, whose tables have grown since. Its sample source table
 * ends where `next` ends, before the `seek` of 1.1. A 1.1 host must load it, use it, and report that it cannot seek.
 *
 * It offers two sources: `abi_1_0_source` streams, `paper_only_source` has no `next` (paper mode only). */
#include "c_sample_source.h"

typedef struct sample_source_api_1_0 {
  uint32_t struct_size;
  dmx_status (*prepare)(void* instance, dmx_error* error);
  dmx_status (*synthesize)(void* instance, const char* out_dir, int64_t count, dmx_error* error);
  dmx_status (*next)(void* instance, dmx_sample* out, dmx_error* error);
} sample_source_api_1_0;

typedef struct augmenter_factory_1_0 {
  uint32_t struct_size;
  const char* name;
  const char* description;
  dmx_augmenter_role role;
  const char* config_schema_json;
  dmx_status (*create)(const dmx_create_info* info, void** instance, dmx_error* error);
  void (*destroy)(void* instance);
  const dmx_batch_augmenter_api* batch_augmenter;
  const sample_source_api_1_0* sample_source;
} augmenter_factory_1_0;

typedef struct plugin_descriptor_1_0 {
  uint32_t struct_size;
  dmx_abi_version abi_version;
  const char* name;
  const char* version;
  const char* description;
  uint32_t augmenter_count;
  const augmenter_factory_1_0* const* augmenters;
  void (*deinit)(void);
} plugin_descriptor_1_0;

_Static_assert(sizeof(sample_source_api_1_0) == DMX_SAMPLE_SOURCE_API_SIZE_1_0, "not the 1.0 sample source table");
_Static_assert(sizeof(augmenter_factory_1_0) == DMX_AUGMENTER_FACTORY_SIZE_1_0, "not the 1.0 factory table");
_Static_assert(sizeof(plugin_descriptor_1_0) == DMX_PLUGIN_DESCRIPTOR_SIZE_1_0, "not the 1.0 descriptor");

/* Stands where a 1.1 table would hold `seek`. A host that read past struct_size would take it for `seek`. */
static dmx_status not_a_seek(void* instance, int64_t index, dmx_error* error) {
  (void)instance;
  (void)index;
  (void)error;
  abort();
}

static const struct {
  sample_source_api_1_0 api;
  dmx_status (*after_the_table)(void* instance, int64_t index, dmx_error* error);
} streaming = {{sizeof(sample_source_api_1_0), c_source_prepare, c_source_synthesize, c_source_next}, not_a_seek};

static const sample_source_api_1_0 paper_only = {sizeof(sample_source_api_1_0), c_source_prepare, c_source_synthesize,
                                                 NULL};

static const augmenter_factory_1_0 streaming_factory = {
    sizeof(augmenter_factory_1_0), "abi_1_0_source", "a sample source of ABI 1.0", DMX_ROLE_SAMPLE_SOURCE, "[]",
    c_source_create, c_source_destroy, NULL, &streaming.api};
static const augmenter_factory_1_0 paper_only_factory = {
    sizeof(augmenter_factory_1_0), "paper_only_source", "a sample source without next", DMX_ROLE_SAMPLE_SOURCE, "[]",
    c_source_create, c_source_destroy, NULL, &paper_only};
static const augmenter_factory_1_0* const factories[] = {&streaming_factory, &paper_only_factory};
static const plugin_descriptor_1_0 descriptor = {
    sizeof(plugin_descriptor_1_0), {1, 0}, "abi_1_0_source", "1.0.0", "built against ABI 1.0", 2, factories, NULL};

DMX_PLUGIN_EXPORT const dmx_plugin_descriptor* dmx_plugin_entry(const dmx_host* host, dmx_error* error) {
  if (!host || host->struct_size < DMX_HOST_SIZE_1_0 || host->abi_version.major != 1) {
    snprintf(error->message, sizeof(error->message), "abi_1_0_source needs a host of ABI 1.x");
    return NULL;
  }
  return (const dmx_plugin_descriptor*)&descriptor;
}
