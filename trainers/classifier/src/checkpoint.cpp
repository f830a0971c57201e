#include "diffmix/classifier/checkpoint.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "diffmix/error.hpp"
#include "diffmix/classifier/weights.hpp"
#include "diffmix/io/safetensors.hpp"

namespace dmx::classifier {
namespace {

constexpr const char* kModelPrefix = "model.";
constexpr const char* kMomentumPrefix = "momentum.";
constexpr const char* kFormat = "diffmix-classifier-checkpoint-1";

// Doubles are stored as text with 17 significant digits, which reads back to the same bits.
std::string exact_text(double value) {
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

const std::string& metadata_value(const io::SafetensorsFile& file, const std::string& key, const std::string& path) {
  const auto found = file.metadata().find(key);
  if (found == file.metadata().end()) throw format_error(path + ": checkpoint metadata lacks '" + key + "'");
  return found->second;
}

int64_t metadata_integer(const io::SafetensorsFile& file, const std::string& key, const std::string& path) {
  const std::string& text = metadata_value(file, key, path);
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    throw format_error(path + ": checkpoint metadata '" + key + "' is not an integer: '" + text + "'");
  }
}

// The number of processes a fingerprint was trained by: its " processes=N", else 1.
int processes_of(const std::string& fingerprint) {
  const std::string key = " processes=";
  const size_t at = fingerprint.rfind(key);
  return at == std::string::npos ? 1 : std::atoi(fingerprint.c_str() + at + key.size());
}

}  // namespace

void save_checkpoint(const std::string& path, const Classifier& model, const MomentumSgd& optimizer,
                     const TrainingPosition& position, const std::string& fingerprint) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, tensor] : named_state(model)) tensors.emplace_back(kModelPrefix + name, tensor);
  for (const auto& [name, buffer] : optimizer.momentum_buffers()) tensors.emplace_back(kMomentumPrefix + name, buffer);
  const std::map<std::string, std::string> metadata = {{"format", kFormat},
                                                       {"fingerprint", fingerprint},
                                                       {"epoch", std::to_string(position.epoch)},
                                                       {"batch", std::to_string(position.batch)},
                                                       {"step", std::to_string(position.step)},
                                                       {"loss_sum", exact_text(position.loss_sum)}};
  io::save_safetensors(path, tensors, metadata);
}

std::optional<TrainingPosition> load_checkpoint(const std::string& path, Classifier& model, MomentumSgd& optimizer,
                                                const std::string& fingerprint) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  const auto file = io::SafetensorsFile::open(path);
  if (metadata_value(file, "format", path) != kFormat)
    throw format_error(path + ": not a diffmix classifier checkpoint");
  const std::string& saved = metadata_value(file, "fingerprint", path);
  if (saved != fingerprint) {
    const int then = processes_of(saved), now = processes_of(fingerprint);
    if (then != now)
      throw invalid_argument(path + " was written by " + std::to_string(then) + " process" + (then > 1 ? "es" : "") +
                             " training together and this run has " + std::to_string(now) +
                             ": resume it with --nproc-per-node " + std::to_string(then) + " (or WORLD_SIZE=" +
                             std::to_string(then) + "), or start over with --fresh");
    throw invalid_argument(path + " was written by a run with other settings; use another output folder or start "
                           "over with --fresh.\n  checkpoint: " + saved + "\n  this run:   " + fingerprint);
  }

  // Split the file into model state and momentum buffers, then reuse the weight loader's checks.
  std::map<std::string, at::Tensor> model_state, momentum;
  for (const auto& key : file.names()) {
    if (key.rfind(kModelPrefix, 0) == 0) model_state[key.substr(std::string(kModelPrefix).size())] = file.tensor(key);
    else if (key.rfind(kMomentumPrefix, 0) == 0) momentum[key.substr(std::string(kMomentumPrefix).size())] = file.tensor(key);
    else throw format_error(path + ": unexpected tensor '" + key + "' in a checkpoint");
  }
  const auto state = named_state(model);
  for (const auto& [name, target] : state) {
    const auto found = model_state.find(name);
    if (found == model_state.end()) throw format_error(path + ": checkpoint lacks model tensor '" + name + "'");
    if (!found->second.sizes().equals(target.sizes()))
      throw shape_error(path + ": checkpoint tensor '" + name + "' does not fit the model");
  }
  optimizer.load_momentum_buffers(momentum);
  {
    at::NoGradGuard no_grad;
    for (const auto& [name, target] : state) {
      at::Tensor destination = target;
      destination.copy_(model_state.at(name));
    }
  }

  TrainingPosition position;
  position.epoch = metadata_integer(file, "epoch", path);
  position.batch = metadata_integer(file, "batch", path);
  position.step = metadata_integer(file, "step", path);
  const std::string& loss_sum = metadata_value(file, "loss_sum", path);
  char* end = nullptr;
  position.loss_sum = std::strtod(loss_sum.c_str(), &end);
  if (end == loss_sum.c_str())
    throw format_error(path + ": checkpoint metadata 'loss_sum' is not a number: '" + loss_sum + "'");
  return position;
}

}  // namespace dmx::classifier
