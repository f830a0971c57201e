// `diffmix plugins`: every plugin found, its augmenters, version and ABI, and every file refused with the reason.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "diffmix/config.hpp"
#include "diffmix/registry.hpp"

namespace dmx::cli {
namespace {

struct PluginsOptions {
  std::vector<std::string> plugin_paths;
  std::string config_path;
};

const char* role_name(AugmenterRole role) {
  return role == AugmenterRole::SampleSource ? "sample source" : "batch augmenter";
}

void run_plugins(const PluginsOptions& options) {
  RegistryOptions registry_options;
  registry_options.search_paths = options.plugin_paths;
  if (!options.config_path.empty()) {
    const auto document = config::Document::parse_file(options.config_path);
    const auto root = document.root();
    if (auto plugins = root.table("plugins"))
      for (const auto& path : plugins->string_list("path", {})) registry_options.search_paths.push_back(path);
  }
  PluginRegistry registry(registry_options);

  std::printf("searched:");
  for (const auto& path : registry.search_paths()) std::printf(" %s", path.c_str());
  std::printf("\n\n");
  if (registry.plugins().empty()) std::printf("no plugins found\n");
  for (const auto& plugin : registry.plugins()) {
    std::printf("%s %s (ABI %u.%u) %s\n", plugin.name.c_str(), plugin.version.c_str(), plugin.abi_major,
                plugin.abi_minor, plugin.path.c_str());
    for (const auto& augmenter : plugin.augmenters)
      std::printf("  %-14s %-16s %s\n", augmenter.name.c_str(), role_name(augmenter.role), augmenter.description.c_str());
  }
  if (!registry.refused().empty()) {
    std::printf("\nrefused:\n");
    for (const auto& refused : registry.refused()) std::printf("  %s: %s\n", refused.path.c_str(), refused.reason.c_str());
  }
}

}  // namespace

void add_plugins_command(CLI::App& app) {
  auto options = std::make_shared<PluginsOptions>();
  auto* cmd = app.add_subcommand("plugins", "List the plugins found, their augmenters, and the files refused");
  cmd->add_option("--plugin-path", options->plugin_paths, "Extra folder or plugin file to search (repeatable)");
  cmd->add_option("--config", options->config_path, "Also search the config's plugins.path");
  cmd->callback([options] { run_plugins(*options); });
}

}  // namespace dmx::cli
