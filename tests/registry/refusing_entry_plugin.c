/* An entry that declines to start (a missing runtime dependency, say) and says why. */
#include <stdio.h>

#include "diffmix/plugin_api.h"

DMX_PLUGIN_EXPORT const dmx_plugin_descriptor* dmx_plugin_entry(const dmx_host* host, dmx_error* error) {
  (void)host;
  snprintf(error->message, sizeof(error->message), "needs a GPU and none is present");
  return NULL;
}
