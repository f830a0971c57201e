#include "diffmix/classifier/weights.hpp"

#include <c10/util/StringUtil.h>

#include <set>

#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"

namespace dmx::classifier {
namespace {

bool starts_with_any(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& prefix : prefixes)
    if (name.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

bool ends_with(const std::string& name, const std::string& suffix) {
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::map<std::string, at::Tensor> named_state(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> state;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) state[item.key()] = item.value();
  for (const auto& item : module.named_buffers(/*recurse=*/true)) state[item.key()] = item.value();
  return state;
}

void load_weights(torch::nn::Module& module, const std::string& path, const LoadWeightsOptions& options) {
  const auto file = io::SafetensorsFile::open(path);
  const auto state = named_state(module);
  const auto in_file = [&](const std::string& name) { return options.name_in_file ? options.name_in_file(name) : name; };
  // "'blocks.0.norm1.weight'" or, when the file names it otherwise, "'encoder.layers.encoder_layer_0.ln_1.weight'
  // (the model's 'blocks.0.norm1.weight')".
  const auto describe = [&](const std::string& name) {
    const auto stored = in_file(name);
    return "'" + stored + "'" + (stored == name ? "" : " (the model's '" + name + "')");
  };

  // Check everything before copying anything, so a bad file leaves the module as it was.
  std::map<std::string, at::Tensor> fitted_tensors;  // the adapted ones, by module name
  std::set<std::string> used;                         // file names some module tensor maps to
  for (const auto& [name, target] : state) {
    const auto stored = in_file(name);
    used.insert(stored);
    if (starts_with_any(name, options.skip_prefixes)) continue;
    if (!file.contains(stored)) {
      if (ends_with(name, "num_batches_tracked")) continue;
      throw not_found(path + ": no tensor " + describe(name) + " (the model has it with shape " +
                      c10::str(target.sizes()) + ")");
    }
    if (!target.sizes().equals(file.shape(stored))) {
      at::Tensor fitted = options.adapt ? options.adapt(name, file.tensor(stored)) : at::Tensor();
      if (!fitted.defined() || !fitted.sizes().equals(target.sizes()))
        throw shape_error(path + ": tensor " + describe(name) + " has shape " + c10::str(file.shape(stored)) +
                          ", the model expects " + c10::str(target.sizes()));
      fitted_tensors.emplace(name, std::move(fitted));
    }
  }
  if (!options.allow_unused)
    for (const auto& name : file.names())
      if (!used.count(name) && !starts_with_any(name, options.skip_prefixes))
        throw format_error(path + ": tensor '" + name + "' matches nothing in the model (wrong architecture?)");

  at::NoGradGuard no_grad;
  for (const auto& [name, target] : state) {
    const auto stored = in_file(name);
    if (starts_with_any(name, options.skip_prefixes) || !file.contains(stored)) continue;
    at::Tensor destination = target;
    const auto fitted = fitted_tensors.find(name);
    destination.copy_(fitted != fitted_tensors.end() ? fitted->second : file.tensor(stored));
  }
}

void save_weights(const torch::nn::Module& module, const std::string& path) {
  const auto state = named_state(module);
  io::save_safetensors(path, {state.begin(), state.end()});
}

}  // namespace dmx::classifier
