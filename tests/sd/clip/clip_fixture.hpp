// Reading the CLIP-related fixture cases: their tensors and the JSON values kept in their safetensors metadata.
#pragma once

#include "diffmix/io/safetensors.hpp"
#include "../sd_fixtures.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace dmx::test {

inline dmx::io::SafetensorsFile open_case(const std::string& name) {
  return dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/" + name + ".safetensors");
}

// A metadata value of a case, parsed as JSON (prompts, token lists, configs are stored as JSON text).
inline nlohmann::json case_meta(const dmx::io::SafetensorsFile& file, const std::string& key) {
  return nlohmann::json::parse(file.metadata().at(key));
}

}  // namespace dmx::test
