/* The ABI headers compile as strict C11 and the pinned layouts hold. */
#include "diffmix/plugin_api.h"
#include "diffmix/plugin_api_layout.h"

int main(void) {
  dmx_error error;
  error.message[0] = '\0';
  return (int)error.message[0];
}
