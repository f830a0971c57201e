/* A plugin built against a later minor version, ABI 1.9, whose tables have grown: each carries fields this host has
 * never heard of after the ones it knows, and its struct_size says so. A 1.3 host must read what it knows, ignore
 * the rest and work. The tables are declared here as a 1.9 plugin_api.h would declare them. */
#include "c_sample_source.h"

typedef struct sample_source_api_1_9 {
  uint32_t struct_size;
  dmx_status (*prepare)(void* instance, dmx_error* error);
  dmx_status (*synthesize)(void* instance, const char* out_dir, int64_t count, dmx_error* error);
  dmx_status (*next)(void* instance, dmx_sample* out, dmx_error* error);
  dmx_status (*seek)(void* instance, int64_t index, dmx_error* error);
  dmx_status (*synthesize_part)(void* instance, const char* out_dir, int64_t count, int64_t begin, int64_t end,
                                dmx_error* error);                              /* 1.3 */
  dmx_status (*set_guidance)(void* instance, float guidance, dmx_error* error); /* 1.9 */
  uint64_t capabilities;                                                        /* 1.9 */
} sample_source_api_1_9;

typedef struct augmenter_factory_1_9 {
  uint32_t struct_size;
  const char* name;
  const char* description;
  dmx_augmenter_role role;
  const char* config_schema_json;
  dmx_status (*create)(const dmx_create_info* info, void** instance, dmx_error* error);
  void (*destroy)(void* instance);
  const dmx_batch_augmenter_api* batch_augmenter;
  const sample_source_api_1_9* sample_source;
  const char* homepage; /* 1.9 */
} augmenter_factory_1_9;

typedef struct plugin_descriptor_1_9 {
  uint32_t struct_size;
  dmx_abi_version abi_version;
  const char* name;
  const char* version;
  const char* description;
  uint32_t augmenter_count;
  const augmenter_factory_1_9* const* augmenters;
  void (*deinit)(void);
  const char* license; /* 1.9 */
} plugin_descriptor_1_9;

/* The 1.9 sample: a host that passes a table this large gets the score too. */
typedef struct sample_1_9 {
  dmx_sample known;
  float aesthetic_score; /* 1.9 */
} sample_1_9;

static dmx_status set_guidance(void* instance, float guidance, dmx_error* error) {
  (void)instance;
  (void)guidance;
  (void)error;
  return DMX_STATUS_OK;
}

/* Writes "<out_dir>/made.txt" holding "<count> <begin> <end>". */
static dmx_status synthesize_part(void* instance, const char* out_dir, int64_t count, int64_t begin, int64_t end,
                                  dmx_error* error) {
  char made[96];
  snprintf(made, sizeof(made), "%lld %lld %lld", (long long)count, (long long)begin, (long long)end);
  return c_source_write_made(instance, out_dir, made, error);
}

/* Fills what the host's table holds, and says how much that was: never past the host's struct_size. */
static dmx_status next_1_9(void* instance, dmx_sample* out, dmx_error* error) {
  const dmx_status status = c_source_next(instance, out, error);
  if (status == DMX_STATUS_OK && DMX_HAS_FIELD(out, sample_1_9, aesthetic_score)) {
    ((sample_1_9*)out)->aesthetic_score = 0.5f;
    out->struct_size = (uint32_t)sizeof(sample_1_9);
  }
  return status;
}

static const sample_source_api_1_9 api = {
    sizeof(sample_source_api_1_9), c_source_prepare, c_source_synthesize, next_1_9, c_source_seek, synthesize_part,
    set_guidance, 3};
static const augmenter_factory_1_9 factory = {
    sizeof(augmenter_factory_1_9), "abi_1_9_source", "a sample source of ABI 1.9", DMX_ROLE_SAMPLE_SOURCE, "[]",
    c_source_create, c_source_destroy, NULL, &api, "https://example.org/abi_1_9_source"};
static const augmenter_factory_1_9* const factories[] = {&factory};
static const plugin_descriptor_1_9 descriptor = {
    sizeof(plugin_descriptor_1_9), {1, 9}, "abi_1_9_source", "1.9.0", "built against ABI 1.9", 1, factories, NULL,
    "MIT"};

DMX_PLUGIN_EXPORT const dmx_plugin_descriptor* dmx_plugin_entry(const dmx_host* host, dmx_error* error) {
  if (!host || host->struct_size < DMX_HOST_SIZE_1_0 || host->abi_version.major != 1) {
    snprintf(error->message, sizeof(error->message), "abi_1_9_source needs a host of ABI 1.x");
    return NULL;
  }
  return (const dmx_plugin_descriptor*)&descriptor;
}
