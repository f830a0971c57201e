#include "diffmix/sd/state_dict.hpp"

#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"

#include <filesystem>
#include <utility>

namespace dmx::sd {

namespace {
constexpr size_t kListedUnexpected = 5;

// The tensors of the SharedWeightsScopes alive on this thread, by the canonical path of the file they stand for.
thread_local std::map<std::string, std::map<std::string, at::Tensor>> shared_weights;

std::string canonical_key(const std::string& path) {
  std::error_code error;
  const auto canonical = std::filesystem::weakly_canonical(path, error);
  return error ? path : canonical.string();
}
}  // namespace

SharedWeightsScope::SharedWeightsScope(std::string safetensors_path, std::map<std::string, at::Tensor> tensors)
    : key_(canonical_key(safetensors_path)) {
  shared_weights[key_] = std::move(tensors);
}

SharedWeightsScope::~SharedWeightsScope() { shared_weights.erase(key_); }

std::string child_name(const std::string& prefix, const char* list, size_t i) {
  return prefix + "." + list + "." + std::to_string(i);
}

StateDict StateDict::load(const std::string& safetensors_path) {
  if (!shared_weights.empty()) {
    const auto shared = shared_weights.find(canonical_key(safetensors_path));
    if (shared != shared_weights.end()) return StateDict(shared->second, safetensors_path);
  }
  const auto file = dmx::io::SafetensorsFile::open(safetensors_path);
  std::map<std::string, at::Tensor> tensors;
  for (const auto& name : file.names()) tensors.emplace(name, file.tensor(name));
  return StateDict(std::move(tensors), safetensors_path);
}

StateDict::StateDict(std::map<std::string, at::Tensor> tensors, std::string source)
    : tensors_(std::move(tensors)), source_(std::move(source)) {}

at::Tensor StateDict::take(const std::string& name, at::IntArrayRef expected_shape) {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    throw dmx::not_found(source_ + ": missing weight '" + name + "' (expected shape " + c10::str(expected_shape) +
                         ")");
  }
  if (it->second.sizes() != expected_shape) {
    throw dmx::shape_error(source_ + ": weight '" + name + "' has shape " + c10::str(it->second.sizes()) +
                           ", expected " + c10::str(expected_shape) + " from the config");
  }
  taken_.insert(name);
  return it->second;
}

at::Tensor StateDict::take(const std::string& name) {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw dmx::not_found(source_ + ": missing weight '" + name + "'");
  taken_.insert(name);
  return it->second;
}

bool StateDict::has(const std::string& name) const { return tensors_.count(name) != 0; }

std::vector<std::string> StateDict::names() const {
  std::vector<std::string> out;
  for (const auto& [name, tensor] : tensors_) out.push_back(name);
  return out;
}

void StateDict::to(at::ScalarType dtype, at::Device device) {
  for (auto& [name, tensor] : tensors_) {
    tensor = at::isFloatingType(tensor.scalar_type()) ? tensor.to(device, dtype) : tensor.to(device);
  }
}

void StateDict::expect_all_taken() const {
  std::vector<std::string> unexpected;
  for (const auto& [name, tensor] : tensors_) {
    if (!taken_.count(name)) unexpected.push_back(name);
  }
  if (unexpected.empty()) return;
  std::string list;
  for (size_t i = 0; i < unexpected.size() && i < kListedUnexpected; ++i) list += (i ? ", '" : "'") + unexpected[i] + "'";
  if (unexpected.size() > kListedUnexpected) list += ", ... (" + std::to_string(unexpected.size()) + " in all)";
  throw dmx::format_error(source_ + ": unexpected weights not used by the model's config: " + list);
}

const std::string& StateDict::source() const { return source_; }

}  // namespace dmx::sd
