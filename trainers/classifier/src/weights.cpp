#include "diffmix/classifier/weights.hpp"

#include <sstream>

#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"

namespace dmx::classifier {
namespace {

bool starts_with_any(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& prefix : prefixes)
    if (name.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

std::string shape_text(at::IntArrayRef sizes) {
  std::ostringstream out;
  out << sizes;
  return out.str();
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

  // Check everything before copying anything, so a bad file leaves the module as it was.
  std::map<std::string, at::Tensor> fitted_tensors;  // the adapted ones, by name
  for (const auto& [name, target] : state) {
    if (starts_with_any(name, options.skip_prefixes)) continue;
    if (!file.contains(name)) {
      if (ends_with(name, "num_batches_tracked")) continue;
      throw not_found(path + ": no tensor '" + name + "' (the model has it with shape " +
                      shape_text(target.sizes()) + ")");
    }
    if (!target.sizes().equals(file.shape(name))) {
      at::Tensor fitted = options.adapt ? options.adapt(name, file.tensor(name)) : at::Tensor();
      if (!fitted.defined() || !fitted.sizes().equals(target.sizes()))
        throw shape_error(path + ": tensor '" + name + "' has shape " + shape_text(file.shape(name)) +
                          ", the model expects " + shape_text(target.sizes()));
      fitted_tensors.emplace(name, std::move(fitted));
    }
  }
  if (!options.allow_unused)
    for (const auto& name : file.names())
      if (!state.count(name) && !starts_with_any(name, options.skip_prefixes))
        throw format_error(path + ": tensor '" + name + "' matches nothing in the model (wrong architecture?)");

  at::NoGradGuard no_grad;
  for (const auto& [name, target] : state) {
    if (starts_with_any(name, options.skip_prefixes)) continue;
    if (!file.contains(name)) continue;
    at::Tensor destination = target;
    const auto fitted = fitted_tensors.find(name);
    destination.copy_(fitted != fitted_tensors.end() ? fitted->second : file.tensor(name));
  }
}

void save_weights(const torch::nn::Module& module, const std::string& path) {
  const auto state = named_state(module);
  io::save_safetensors(path, {state.begin(), state.end()});
}

}  // namespace dmx::classifier
