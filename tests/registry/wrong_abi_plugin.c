/* Claims ABI major 99: the host must refuse it by name and version, without calling anything else. */
#include <stddef.h>

#include "diffmix/plugin_api.h"

static const dmx_plugin_descriptor descriptor = {
    sizeof(dmx_plugin_descriptor), {99, 0}, "from_the_future", "9.9.9", "built for another ABI", 0, NULL, NULL};

DMX_PLUGIN_EXPORT const dmx_plugin_descriptor* dmx_plugin_entry(const dmx_host* host, dmx_error* error) {
  (void)host;
  (void)error;
  return &descriptor;
}
