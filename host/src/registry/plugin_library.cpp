#include "plugin_library.hpp"

#include <boost/system/system_error.hpp>

#include <cstring>
#include <set>
#include <string>

#include "diffmix/error.hpp"
#include "diffmix/plugin_api_layout.h"  // the host that checks plugins' tables is built only if the layouts hold
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

constexpr uint32_t kMaxAugmenters = 1024;

std::string version_string(dmx_abi_version v) { return std::to_string(v.major) + "." + std::to_string(v.minor); }

// Tables are checked against their size in ABI 1.0, never against sizeof of this host's structs: a plugin built
// against an older minor version sends smaller tables, and they are valid. Fields added later are read only when
// struct_size covers them.
void require_1_0_size(uint32_t struct_size, size_t size_1_0, const std::string& table) {
  if (struct_size < size_1_0)
    throw plugin_error(table + " is " + std::to_string(struct_size) + " bytes, smaller than the " +
                       std::to_string(size_1_0) + " bytes of ABI 1.0");
}

std::string augmenter_named(const dmx_augmenter_factory& f) { return std::string("augmenter '") + f.name + "'"; }

void check_batch_augmenter(const dmx_augmenter_factory& f) {
  const dmx_batch_augmenter_api* api = f.batch_augmenter;
  if (!api) throw plugin_error(augmenter_named(f) + " is a batch augmenter but gives no batch augmenter table");
  require_1_0_size(api->struct_size, DMX_BATCH_AUGMENTER_API_SIZE_1_0,
                   augmenter_named(f) + ": its batch augmenter table");
  if (!api->apply) throw plugin_error(augmenter_named(f) + " is a batch augmenter without `apply`");
}

Error missing_function(const dmx_augmenter_factory& f, const char* function) {
  return plugin_error(augmenter_named(f) + " is a sample source without `" + function +
                      "`, which every sample source must offer");
}

// `prepare` and `synthesize` (paper mode) are what every sample source offers; `next` may be NULL (the source
// cannot stream) and `seek`, since 1.1, may be absent.
void check_sample_source(const dmx_augmenter_factory& f) {
  const dmx_sample_source_api* api = f.sample_source;
  if (!api) throw plugin_error(augmenter_named(f) + " is a sample source but gives no sample source table");
  require_1_0_size(api->struct_size, DMX_SAMPLE_SOURCE_API_SIZE_1_0, augmenter_named(f) + ": its sample source table");
  if (!api->prepare) throw missing_function(f, "prepare");
  if (!api->synthesize) throw missing_function(f, "synthesize");
}

void check_factory(const dmx_augmenter_factory* f, uint32_t index, std::set<std::string>& names) {
  const std::string where = "augmenter #" + std::to_string(index);
  if (!f) throw plugin_error(where + ": no factory table");
  require_1_0_size(f->struct_size, DMX_AUGMENTER_FACTORY_SIZE_1_0, where + ": its factory table");
  if (!f->name || !*f->name) throw plugin_error(where + ": no name");
  if (!names.insert(f->name).second) throw plugin_error(where + ": name '" + f->name + "' offered twice");
  if (!f->create || !f->destroy) throw plugin_error(augmenter_named(*f) + ": create/destroy missing");
  switch (f->role) {
    case DMX_ROLE_BATCH_AUGMENTER:
      check_batch_augmenter(*f);
      return;
    case DMX_ROLE_SAMPLE_SOURCE:
      check_sample_source(*f);
      return;
  }
  throw plugin_error(augmenter_named(*f) + ": unknown role " + std::to_string(static_cast<int>(f->role)));
}

// A descriptor the host can trust: every field it reads is present and consistent.
void check_descriptor(const dmx_plugin_descriptor& d) {
  // The version first: a plugin of another major version may lay out the rest differently.
  if (d.abi_version.major != DMX_ABI_VERSION_MAJOR)
    throw plugin_error("built for ABI " + version_string(d.abi_version) + ", this host speaks ABI " +
                       version_string({DMX_ABI_VERSION_MAJOR, DMX_ABI_VERSION_MINOR}));
  require_1_0_size(d.struct_size, DMX_PLUGIN_DESCRIPTOR_SIZE_1_0, "its descriptor");
  if (!d.name || !*d.name) throw plugin_error("descriptor has no plugin name");
  if (!d.version) throw plugin_error("descriptor has no version");
  if (d.augmenter_count > 0 && !d.augmenters) throw plugin_error("descriptor lists augmenters but gives none");
  // A count beyond any real plugin is a corrupt descriptor; reading that many table pointers would run off its array.
  if (d.augmenter_count > kMaxAugmenters)
    throw plugin_error("descriptor claims " + std::to_string(d.augmenter_count) + " augmenters, more than the " +
                       std::to_string(kMaxAugmenters) + " a plugin may offer");
  std::set<std::string> names;
  for (uint32_t i = 0; i < d.augmenter_count; ++i) check_factory(d.augmenters[i], i, names);
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
