/* A sample source missing a function every sample source must offer; built twice, as missing_prepare.so (with
 * MISSING_PREPARE defined) and as missing_synthesize.so. The host must refuse the file at load, naming the augmenter
 * and the function, rather than call through NULL later. */
#include "c_sample_source.h"

#if defined(MISSING_PREPARE)
#define SOURCE_NAME "no_prepare_source"
#define PREPARE NULL
#define SYNTHESIZE c_source_synthesize
#else
#define SOURCE_NAME "no_synthesize_source"
#define PREPARE c_source_prepare
#define SYNTHESIZE NULL
#endif

static const dmx_sample_source_api api = {sizeof(dmx_sample_source_api), PREPARE, SYNTHESIZE, c_source_next,
                                          c_source_seek, NULL};
static const dmx_augmenter_factory factory = {
    sizeof(dmx_augmenter_factory), SOURCE_NAME, "a sample source missing a required function", DMX_ROLE_SAMPLE_SOURCE,
    "[]", c_source_create, c_source_destroy, NULL, &api};
static const dmx_augmenter_factory* const factories[] = {&factory};
static const dmx_plugin_descriptor descriptor = {
    sizeof(dmx_plugin_descriptor), {DMX_ABI_VERSION_MAJOR, DMX_ABI_VERSION_MINOR}, SOURCE_NAME, "0.1.0",
    "refused at load", 1, factories, NULL};

DMX_PLUGIN_EXPORT const dmx_plugin_descriptor* dmx_plugin_entry(const dmx_host* host, dmx_error* error) {
  (void)host;
  (void)error;
  return &descriptor;
}
