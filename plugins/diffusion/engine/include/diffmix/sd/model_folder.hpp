// A diffusers model folder on disk: model_index.json plus one sub-folder per component.
//
//   auto model = ModelFolder::open("models/sd-1.5");            // reads model_index.json
//   auto unet = model.component("unet");                          // or ComponentFolder::open("models/sd-1.5", "unet")
//   auto config = ConfigFile::open(unet.config_path());           // unet/config.json
//   auto weights = StateDict::load(unet.weights_path());          // unet/diffusion_pytorch_model.safetensors
//
// Missing files are NotFound errors naming the path that was looked for.
#pragma once

#include "diffmix/sd/config_file.hpp"

#include <map>
#include <string>
#include <vector>

namespace dmx::sd {

// One component sub-folder (unet/, vae/, text_encoder/, tokenizer/, scheduler/).
class ComponentFolder {
 public:
  // Requires `<model_folder>/<component>/` to exist; files are looked up when asked for.
  static ComponentFolder open(const std::string& model_folder, const std::string& component);

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  std::string file(const std::string& filename) const;  // path of a file that must exist (NotFound otherwise)
  bool has_file(const std::string& filename) const;
  // config.json, or for a scheduler scheduler_config.json (whichever exists).
  std::string config_path() const;
  // The weights file: diffusion_pytorch_model.safetensors or model.safetensors (a .bin checkpoint is refused with a
  // message that says to convert it).
  std::string weights_path() const;

 private:
  std::string name_, path_;
};

class ModelFolder {
 public:
  static ModelFolder open(const std::string& path);  // NotFound / Format / Config errors naming model_index.json

  const std::string& path() const { return path_; }
  const std::string& index_path() const { return index_path_; }
  // Components listed with a [library, class] pair that is not null, e.g. {"unet": "UNet2DConditionModel"}.
  const std::map<std::string, std::string>& components() const { return components_; }
  bool has_component(const std::string& name) const { return components_.count(name) != 0; }
  // The listed component's class name; NotFound naming model_index.json if it is absent or null.
  const std::string& class_name(const std::string& component) const;
  ComponentFolder component(const std::string& name) const;

 private:
  std::string path_, index_path_;
  std::map<std::string, std::string> components_;
};

}  // namespace dmx::sd
