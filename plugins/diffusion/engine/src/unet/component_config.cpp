#include "component_config.hpp"

#include "../common/file_kind.hpp"
#include "diffmix/error.hpp"

namespace dmx::sd {

ComponentFolder open_component(const std::string& folder, const std::string& component) {
  std::string path = folder;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  // A component folder given directly: open it as `<parent>/<name>`.
  if (is_regular_file(path + "/config.json") && !is_regular_file(path + "/model_index.json")) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ComponentFolder::open(".", path);
    return ComponentFolder::open(slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1));
  }
  return ComponentFolder::open(path, component);
}

std::vector<int64_t> integers_per_block(const ConfigFile& config, const std::string& key, size_t blocks,
                                        std::optional<int64_t> fallback) {
  const auto& json = config.json();
  const auto it = json.find(key);
  if (it == json.end() || it->is_null() || it->is_number()) {
    return std::vector<int64_t>(blocks, config.integer(key, fallback));
  }
  auto list = config.integers(key);
  if (list.size() != blocks) {
    throw dmx::config_error(config.source() + ": key '" + key + "' lists " + std::to_string(list.size()) +
                            " values but the model has " + std::to_string(blocks) + " blocks");
  }
  return list;
}

void require_default(const ConfigFile& config, const std::string& key, const nlohmann::json& expected) {
  const auto& json = config.json();
  const auto it = json.find(key);
  if (it == json.end() || it->is_null() || *it == expected) return;
  throw dmx::unsupported(config.source() + ": key '" + key + "' = " + it->dump() +
                         " is not supported by this engine (expected " + expected.dump() + ")");
}

}  // namespace dmx::sd
