// The ABI headers compile as strict C++17 and the pinned layouts hold.
#include "diffmix/plugin_api.h"
#include "diffmix/plugin_api_layout.h"

int main() {
  dmx_error error{};
  return static_cast<int>(error.message[0]);
}
