#include "diffmix/plugin.hpp"
#include "passthrough.hpp"

DMX_PLUGIN("passthrough", "0.1.0", "measures the ABI call overhead", dmx::plugin::batch_augmenter<Passthrough>())
