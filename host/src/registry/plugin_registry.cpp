#include "diffmix/registry.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "config_schema.hpp"
#include "diffmix/config.hpp"
#include "diffmix/error.hpp"
#include "host_services.hpp"
#include "plugin_batch_augmenter.hpp"
#include "plugin_library.hpp"
#include "plugin_sample_source.hpp"

namespace fs = std::filesystem;

namespace dmx {

// <libdir>/diffmix/plugins beside wherever this libdiffmix.so was loaded from, so an installed tree can be moved;
// in a build tree (build/host/libdiffmix.so) the plugins are in build/plugins. The configured install prefix
// when neither exists.
std::string install_plugin_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&install_plugin_dir), &info) && info.dli_fname) {
    const auto library_dir = fs::path(info.dli_fname).parent_path();
    for (const auto& candidate : {library_dir / "diffmix" / "plugins", library_dir.parent_path() / "plugins"}) {
      std::error_code ec;
      if (fs::is_directory(candidate, ec)) return candidate.string();
    }
  }
  return DIFFMIX_INSTALL_PLUGIN_DIR;
}

struct PluginRegistry::Impl {
  std::vector<std::string> search_paths;
  std::vector<PluginInfo> infos;
  std::vector<RefusedPlugin> refused;
  std::vector<std::shared_ptr<PluginLibrary>> libraries;
  using Entry = std::pair<std::shared_ptr<PluginLibrary>, const dmx_augmenter_factory*>;
  // augmenter name -> (library, factory)
  std::map<std::string, Entry> augmenters;

  void load_file(const std::string& path);
  void load_path(const std::string& path, std::set<std::string>& seen);
  Entry find_factory(const std::string& name, const config::Table& table, dmx_augmenter_role wanted) const;
};

namespace {

std::vector<std::string> split_path_list(const std::string& list) {
  std::vector<std::string> parts;
  std::stringstream in(list);
  for (std::string part; std::getline(in, part, ':');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

bool looks_like_plugin_file(const fs::path& path) {
  return fs::is_regular_file(path) && path.extension() == ".so";
}

PluginInfo describe(const std::string& path, const dmx_plugin_descriptor& d) {
  PluginInfo info;
  info.path = path;
  info.name = d.name;
  info.version = d.version;
  info.description = d.description ? d.description : "";
  info.abi_major = d.abi_version.major;
  info.abi_minor = d.abi_version.minor;
  for (uint32_t i = 0; i < d.augmenter_count; ++i) {
    const auto* f = d.augmenters[i];
    info.augmenters.push_back({f->name, f->description ? f->description : "",
                               f->role == DMX_ROLE_SAMPLE_SOURCE ? AugmenterRole::SampleSource
                                                                 : AugmenterRole::BatchAugmenter});
  }
  return info;
}

DLDevice parse_device(const std::string& device) {
  if (device == "cpu" || device.empty()) return {kDLCPU, 0};
  if (device.rfind("cuda", 0) == 0) {
    int index = 0;
    if (device.size() > 5 && device[4] == ':') index = std::atoi(device.c_str() + 5);
    else if (device.size() != 4) throw invalid_argument("unknown device '" + device + "' (cpu, cuda or cuda:N)");
    return {kDLCUDA, index};
  }
  throw invalid_argument("unknown device '" + device + "' (cpu, cuda or cuda:N)");
}

const char* role_name(dmx_augmenter_role role) {
  return role == DMX_ROLE_SAMPLE_SOURCE ? "a sample source" : "a batch augmenter";
}

}  // namespace

void PluginRegistry::Impl::load_file(const std::string& path) {
  std::shared_ptr<PluginLibrary> library;
  try {
    library = PluginLibrary::open(path);
  } catch (const Error& e) {
    refused.push_back({path, e.what()});
    spdlog::warn("plugin {} refused: {}", path, e.what());
    return;
  }
  const auto& d = library->descriptor();
  for (uint32_t i = 0; i < d.augmenter_count; ++i) {
    const auto it = augmenters.find(d.augmenters[i]->name);
    if (it != augmenters.end()) {
      refused.push_back({path, std::string("augmenter '") + d.augmenters[i]->name + "' is already provided by " +
                                   it->second.first->path()});
      return;
    }
  }
  for (uint32_t i = 0; i < d.augmenter_count; ++i) augmenters[d.augmenters[i]->name] = {library, d.augmenters[i]};
  infos.push_back(describe(path, d));
  libraries.push_back(std::move(library));
  spdlog::debug("plugin {} {} loaded from {}", d.name, d.version, path);
}

void PluginRegistry::Impl::load_path(const std::string& path, std::set<std::string>& seen) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    spdlog::debug("plugin path {} does not exist", path);
    return;
  }
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec))
      if (looks_like_plugin_file(entry.path())) files.push_back(entry.path());
    std::sort(files.begin(), files.end());  // a stable order makes "first one wins" predictable
  } else {
    files.push_back(path);
  }
  for (const auto& file : files) {
    const std::string canonical = fs::weakly_canonical(file, ec).string();
    if (seen.insert(canonical).second) load_file(file.string());
  }
}

PluginRegistry::PluginRegistry(const RegistryOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->search_paths = options.search_paths;
  if (options.use_environment)
    if (const char* env = std::getenv("DIFFMIX_PLUGIN_PATH"))
      for (auto& p : split_path_list(env)) impl_->search_paths.push_back(p);
  if (options.use_install_dir) impl_->search_paths.push_back(install_plugin_dir());
  std::set<std::string> seen;
  for (const auto& path : impl_->search_paths) impl_->load_path(path, seen);
}

PluginRegistry::~PluginRegistry() = default;

const std::vector<PluginInfo>& PluginRegistry::plugins() const { return impl_->infos; }
const std::vector<RefusedPlugin>& PluginRegistry::refused() const { return impl_->refused; }
const std::vector<std::string>& PluginRegistry::search_paths() const { return impl_->search_paths; }

bool PluginRegistry::has_augmenter(const std::string& name) const { return impl_->augmenters.count(name) > 0; }

std::vector<std::string> PluginRegistry::augmenter_names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : impl_->augmenters) names.push_back(name);
  return names;
}

// The factory of `name`, after checking its role and its table against the plugin's schema.
PluginRegistry::Impl::Entry PluginRegistry::Impl::find_factory(const std::string& name, const config::Table& table,
                                                               dmx_augmenter_role wanted) const {
  const auto it = augmenters.find(name);
  if (it == augmenters.end()) {
    std::vector<std::string> names;
    for (const auto& entry : augmenters) names.push_back(entry.first);
    std::string message = table.where("augmenter") + ": no plugin offers augmenter '" + name + "'";
    if (auto guess = config::nearest_name(name, names)) message += "; did you mean '" + *guess + "'?";
    message += " (run `diffmix plugins` to see what was found and what was refused)";
    throw config_error(message);
  }
  const auto& [library, factory] = it->second;
  if (factory->role != wanted)
    throw config_error(table.where("augmenter") + ": '" + name + "' (" + library->path() + ") is " +
                       role_name(factory->role) + ", but " + role_name(wanted) + " is needed here");
  // Its function table was checked when the plugin was loaded (PluginLibrary::open): present, of at least its
  // ABI 1.0 size, with the functions its role requires.
  check_against_schema(table, factory->config_schema_json, name);
  return it->second;
}

namespace {

// Calls the factory; `dataset` is NULL for batch augmenters.
void* create_instance(const std::string& name, const PluginLibrary& library, const dmx_augmenter_factory& factory,
                      const config::Table& table, const AugmenterContext& context, const dmx_dataset_view* dataset) {
  const std::string toml_text = table.to_toml();
  dmx_create_info info{};
  info.struct_size = sizeof(info);
  info.instance_name = name.c_str();
  info.config_toml = toml_text.c_str();
  info.num_classes = static_cast<int32_t>(context.num_classes);
  info.seed = context.seed;
  info.device = parse_device(context.device);
  info.cache_dir = context.cache_dir.c_str();
  info.dataset = dataset;
  void* instance = nullptr;
  dmx_error error{};
  const dmx_status status = factory.create(&info, &instance, &error);
  if (status != DMX_STATUS_OK || !instance) {
    error.message[sizeof(error.message) - 1] = '\0';
    throw Error(status == DMX_STATUS_OK ? ErrorCategory::Plugin : category_of(status),
                "augmenter '" + name + "' from " + library.path() + " could not be created: " +
                    (error.message[0] ? error.message : "no reason given"));
  }
  return instance;
}

}  // namespace

std::shared_ptr<BatchAugmenter> PluginRegistry::create_batch_augmenter(const std::string& name,
                                                                       const config::Table& table,
                                                                       const AugmenterContext& context) {
  const auto [library, factory] = impl_->find_factory(name, table, DMX_ROLE_BATCH_AUGMENTER);
  void* instance = create_instance(name, *library, *factory, table, context, nullptr);
  return std::make_shared<PluginBatchAugmenter>(library, *factory, instance);
}

std::shared_ptr<SampleSource> PluginRegistry::create_sample_source(const std::string& name,
                                                                   const config::Table& table,
                                                                   const SampleSourceContext& context) {
  const auto [library, factory] = impl_->find_factory(name, table, DMX_ROLE_SAMPLE_SOURCE);
  if (!context.dataset) throw invalid_argument("sample source '" + name + "' needs a dataset, and none was given");
  if (context.num_classes != context.dataset->num_classes())
    throw invalid_argument("sample source '" + name + "': the context says " + std::to_string(context.num_classes) +
                           " classes but the dataset " + context.dataset->name() + " has " +
                           std::to_string(context.dataset->num_classes()));
  auto view = std::make_unique<DatasetView>(context.dataset);
  void* instance = create_instance(name, *library, *factory, table, context, view->table());
  return std::make_shared<PluginSampleSource>(library, *factory, std::move(view), instance, context.num_classes);
}

std::string sample_source_record(const config::Table& source, uint64_t seed) {
  toml::table record;
  record.insert("seed", static_cast<int64_t>(seed));
  record.insert("source", source.raw());
  return config::toml_document(std::move(record)) + "\n";
}

}  // namespace dmx
