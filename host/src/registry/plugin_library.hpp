// One loaded plugin file: the library handle and the descriptor its entry returned. Augmenters made by the plugin
// hold a shared_ptr to it, so the code they run cannot be unloaded under them.
#pragma once

#include <boost/dll/shared_library.hpp>

#include <memory>
#include <string>

#include "diffmix/plugin_api.h"

namespace dmx {

class PluginLibrary {
 public:
  // Loads and vets `path`; throws dmx::Error (category Plugin) whose message is the reason it was refused.
  static std::shared_ptr<PluginLibrary> open(const std::string& path);
  ~PluginLibrary();

  const std::string& path() const { return path_; }
  const dmx_plugin_descriptor& descriptor() const { return *descriptor_; }

 private:
  PluginLibrary() = default;
  std::string path_;
  boost::dll::shared_library library_;
  const dmx_plugin_descriptor* descriptor_ = nullptr;
};

}  // namespace dmx
