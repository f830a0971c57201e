// Checks an augmenter's TOML table against the schema its plugin declares (dmx_augmenter_factory::
// config_schema_json), so a plugin's keys get the same file:line:column errors and suggestions as the host's.
#pragma once

#include <string>

#include "diffmix/config.hpp"

namespace dmx {

void check_against_schema(const config::Table& table, const char* schema_json, const std::string& augmenter);

}  // namespace dmx
