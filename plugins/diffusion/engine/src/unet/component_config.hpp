// What the UNet and VAE loaders share on top of ConfigFile / ComponentFolder: finding a component given either the
// pipeline folder or the component folder itself, diffusers' "one value or one per block" keys, and refusing
// config features this engine does not implement.
#pragma once

#include "diffmix/sd/config_file.hpp"
#include "diffmix/sd/model_folder.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmx::sd {

// `folder` is a pipeline folder holding `<component>/`, or that component folder itself (it has a config.json).
ComponentFolder open_component(const std::string& folder, const std::string& component);

// A key diffusers accepts either as one integer for every block or as a list with one entry per block.
std::vector<int64_t> integers_per_block(const ConfigFile& config, const std::string& key, size_t blocks,
                                        std::optional<int64_t> fallback = std::nullopt);

// An Unsupported error naming the file and key unless `key` is absent, null or equal to `expected`.
void require_default(const ConfigFile& config, const std::string& key, const nlohmann::json& expected);

}  // namespace dmx::sd
