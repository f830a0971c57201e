// The dmx_host table the host hands to every plugin: logging into spdlog, progress, cancellation.
#pragma once

#include "diffmix/error.hpp"
#include "diffmix/plugin_api.h"

namespace dmx {

const dmx_host* host_services();

// The C++ error category for a status a plugin returned.
ErrorCategory category_of(dmx_status status);

}  // namespace dmx
