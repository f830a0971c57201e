#include "diffmix/sd/model_folder.hpp"

#include "diffmix/error.hpp"

#include "file_kind.hpp"

namespace dmx::sd {

namespace {

std::string join(const std::string& folder, const std::string& name) {
  if (folder.empty() || folder.back() == '/') return folder + name;
  return folder + "/" + name;
}

}  // namespace

ComponentFolder ComponentFolder::open(const std::string& model_folder, const std::string& component) {
  ComponentFolder folder;
  folder.name_ = component;
  folder.path_ = join(model_folder, component);
  if (!is_directory(folder.path_)) {
    throw dmx::not_found(folder.path_ + ": no such component folder (expected a diffusers model folder with '" +
                         component + "/')");
  }
  return folder;
}

bool ComponentFolder::has_file(const std::string& filename) const { return is_regular_file(join(path_, filename)); }

std::string ComponentFolder::file(const std::string& filename) const {
  const auto path = join(path_, filename);
  if (!is_regular_file(path)) throw dmx::not_found(path + ": no such file");
  return path;
}

std::string ComponentFolder::config_path() const {
  for (const char* candidate : {"config.json", "scheduler_config.json", "preprocessor_config.json"}) {
    if (has_file(candidate)) return join(path_, candidate);
  }
  throw dmx::not_found(join(path_, "config.json") + ": no such file (the component's architecture is read from it)");
}

std::string ComponentFolder::weights_path() const {
  for (const char* candidate : {"diffusion_pytorch_model.safetensors", "model.safetensors"}) {
    if (has_file(candidate)) return join(path_, candidate);
  }
  for (const char* pickle : {"diffusion_pytorch_model.bin", "pytorch_model.bin"}) {
    if (has_file(pickle)) {
      throw dmx::unsupported(join(path_, pickle) +
                             ": PyTorch pickle checkpoints are not read; save the model with safe_serialization=True "
                             "(diffusion_pytorch_model.safetensors / model.safetensors)");
    }
  }
  throw dmx::not_found(path_ + ": no weights file (looked for diffusion_pytorch_model.safetensors and "
                               "model.safetensors)");
}

ModelFolder ModelFolder::open(const std::string& path) {
  ModelFolder model;
  model.path_ = path;
  model.index_path_ = join(path, "model_index.json");
  if (!is_directory(path)) throw dmx::not_found(path + ": no such model folder");
  const auto index = ConfigFile::open(model.index_path_);
  for (const auto& [key, value] : index.json().items()) {
    if (key.empty() || key[0] == '_') continue;  // _class_name, _diffusers_version, ...
    if (value.is_boolean() || value.is_string() || value.is_number()) continue;  // pipeline options
    if (!value.is_array() || value.size() != 2) {
      throw dmx::config_error(model.index_path_ + ": key '" + key + "' must be [library, class] or [null, null], got " +
                              value.dump());
    }
    if (value[0].is_null() && value[1].is_null()) continue;  // an absent optional component
    if (!value[1].is_string()) {
      throw dmx::config_error(model.index_path_ + ": key '" + key + "' must name a class as its second entry, got " +
                              value.dump());
    }
    model.components_[key] = value[1].get<std::string>();
  }
  return model;
}

const std::string& ModelFolder::class_name(const std::string& component) const {
  const auto it = components_.find(component);
  if (it == components_.end()) throw dmx::not_found(index_path_ + ": no component '" + component + "' is listed");
  return it->second;
}

ComponentFolder ModelFolder::component(const std::string& name) const {
  class_name(name);
  return ComponentFolder::open(path_, name);
}

}  // namespace dmx::sd
