#include "diffmix/torch_compat.hpp"

#include <ATen/Context.h>

namespace dmx::compat {

bool cuda_available() { return at::hasCUDA(); }

}  // namespace dmx::compat
