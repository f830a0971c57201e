#include "plugin_library.hpp"

#include <boost/system/system_error.hpp>

#include <cstring>
#include <set>

#include "diffmix/error.hpp"
#include "host_services.hpp"

namespace dmx {
namespace {

// Boost wraps dlerror()'s text in its own words; the loader's reason is what a user can act on.
std::string loader_reason(const std::string& message) {
  const std::string marker = "dlerror system message: ";
  const auto begin = message.find(marker);
  if (begin == std::string::npos) return message;
  const auto end = message.rfind(')');
  const auto start = begin + marker.size();
  return message.substr(start, end != std::string::npos && end > start ? end - start : std::string::npos);
}

std::string version_string(dmx_abi_version v) { return std::to_string(v.major) + "." + std::to_string(v.minor); }

// A descriptor the host can trust: every field it reads is present and consistent.
void check_descriptor(const dmx_plugin_descriptor& d) {
  if (d.struct_size < sizeof(dmx_plugin_descriptor))
    throw plugin_error("descriptor is " + std::to_string(d.struct_size) + " bytes, expected at least " +
                       std::to_string(sizeof(dmx_plugin_descriptor)));
  if (d.abi_version.major != DMX_ABI_VERSION_MAJOR)
    throw plugin_error("built for ABI " + version_string(d.abi_version) + ", this host speaks ABI " +
                       version_string({DMX_ABI_VERSION_MAJOR, DMX_ABI_VERSION_MINOR}));
  if (!d.name || !*d.name) throw plugin_error("descriptor has no plugin name");
  if (!d.version) throw plugin_error("descriptor has no version");
  if (d.augmenter_count > 0 && !d.augmenters) throw plugin_error("descriptor lists augmenters but gives none");
  std::set<std::string> names;
  for (uint32_t i = 0; i < d.augmenter_count; ++i) {
    const dmx_augmenter_factory* f = d.augmenters[i];
    const std::string where = "augmenter #" + std::to_string(i);
    if (!f || f->struct_size < sizeof(dmx_augmenter_factory)) throw plugin_error(where + ": factory table missing or too small");
    if (!f->name || !*f->name) throw plugin_error(where + ": no name");
    if (!names.insert(f->name).second) throw plugin_error(where + ": name '" + f->name + "' offered twice");
    if (!f->create || !f->destroy) throw plugin_error(std::string("augmenter '") + f->name + "': create/destroy missing");
    const bool batch_ok = f->role == DMX_ROLE_BATCH_AUGMENTER && f->batch_augmenter && f->batch_augmenter->apply;
    const bool source_ok = f->role == DMX_ROLE_SAMPLE_SOURCE && f->sample_source && f->sample_source->prepare &&
                           f->sample_source->next;
    if (!batch_ok && !source_ok)
      throw plugin_error(std::string("augmenter '") + f->name + "': role and function table do not match");
  }
}

}  // namespace

std::shared_ptr<PluginLibrary> PluginLibrary::open(const std::string& path) {
  std::shared_ptr<PluginLibrary> plugin(new PluginLibrary());
  plugin->path_ = path;
  try {
    // RTLD_LOCAL: two plugins may bundle different versions of the same helper library.
    plugin->library_.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const boost::system::system_error& e) {
    throw plugin_error("not a loadable library (" + loader_reason(e.what()) + ")");
  }
  if (!plugin->library_.has(DMX_PLUGIN_ENTRY_SYMBOL))
    throw plugin_error(std::string("no '") + DMX_PLUGIN_ENTRY_SYMBOL + "' symbol: not a diffmix plugin");
  auto entry = plugin->library_.get<const dmx_plugin_descriptor*(const dmx_host*, dmx_error*)>(DMX_PLUGIN_ENTRY_SYMBOL);
  dmx_error error{};
  plugin->descriptor_ = entry(host_services(), &error);
  if (!plugin->descriptor_) {
    error.message[sizeof(error.message) - 1] = '\0';
    throw plugin_error(std::string("its entry refused to start: ") + (error.message[0] ? error.message : "no reason given"));
  }
  check_descriptor(*plugin->descriptor_);
  return plugin;
}

PluginLibrary::~PluginLibrary() {
  if (descriptor_ && descriptor_->deinit) descriptor_->deinit();
}

}  // namespace dmx
