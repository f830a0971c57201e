// PluginRegistry: finds, loads and vets plugins, and creates augmenters from them.
//
// Plugins are searched in (1) the folders given by the caller (the config's `plugins.path`), (2) the folders in
// $DIFFMIX_PLUGIN_PATH (colon-separated), (3) the install directory. A file that is not a plugin, lacks the entry
// symbol, has another ABI major version or whose entry fails is refused with the file and the reason; the other
// plugins still load. A plugin library stays loaded while any augmenter made by it lives. The "install directory"
// is found beside libdiffmix.so (<libdir>/diffmix/plugins, or <build>/plugins in a build tree).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diffmix/augmenter.hpp"
#include "diffmix/sample_source.hpp"

namespace dmx {

enum class AugmenterRole { BatchAugmenter, SampleSource };

struct AugmenterInfo {
  std::string name;
  std::string description;
  AugmenterRole role = AugmenterRole::BatchAugmenter;
};

struct PluginInfo {
  std::string path;
  std::string name;
  std::string version;
  std::string description;
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  std::vector<AugmenterInfo> augmenters;
};

struct RefusedPlugin {
  std::string path;
  std::string reason;
};

struct RegistryOptions {
  std::vector<std::string> search_paths;  // folders or plugin files, searched first
  bool use_environment = true;            // also search $DIFFMIX_PLUGIN_PATH
  bool use_install_dir = true;            // also search the installed plugin folder
};

class PluginRegistry {
 public:
  explicit PluginRegistry(const RegistryOptions& options = {});
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  const std::vector<PluginInfo>& plugins() const;
  const std::vector<RefusedPlugin>& refused() const;
  // The folders searched, in order.
  const std::vector<std::string>& search_paths() const;

  bool has_augmenter(const std::string& name) const;
  std::vector<std::string> augmenter_names() const;

  // Creates batch augmenter `name` with its TOML table (checked against the plugin's schema: unknown keys, types and
  // ranges are config errors with file:line:column). The key `augmenter` of the table is the name and is skipped.
  std::shared_ptr<BatchAugmenter> create_batch_augmenter(const std::string& name, const config::Table& table,
                                                         const AugmenterContext& context);
  // Creates sample source `name` the same way; the context's dataset is what the source reads through its
  // dmx_dataset_view, and it stays alive as long as the source does.
  std::shared_ptr<SampleSource> create_sample_source(const std::string& name, const config::Table& table,
                                                     const SampleSourceContext& context);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a synthetic cache records about the sample source that fills it (SyntheticCacheWriter's `made_by`): the seed
// the source draws its samples with and its TOML table (the plugin's own keys, `augmenter` included).
std::string sample_source_record(const config::Table& source, uint64_t seed);

// The installed plugin folder compiled into this build.
std::string install_plugin_dir();

}  // namespace dmx
