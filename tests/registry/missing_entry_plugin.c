/* A shared library that exports no entry point: a typo in the symbol name. */
#include "diffmix/plugin_api.h"

DMX_PLUGIN_EXPORT const dmx_plugin_descriptor* dmx_plugin_entyr(const dmx_host* host, dmx_error* error) {
  (void)host;
  (void)error;
  return 0;
}
