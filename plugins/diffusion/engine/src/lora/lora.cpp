#include "diffmix/sd/lora.hpp"

#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

namespace dmx::sd {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

const std::string kDiffusersPrefix = "unet.";
const std::string kKohyaPrefix = "lora_unet_";

enum class Role { Down, Up, Alpha };

// One key of a LoRA file, split into the adapter it belongs to and what it holds.
struct ParsedKey {
  std::string adapter;  // module path (diffusers layout) or kohya stem
  Role role;
  bool kohya;
};

std::optional<ParsedKey> parse_key(const std::string& key) {
  static const std::pair<const char*, Role> kDiffusersSuffixes[] = {
      {".lora.down.weight", Role::Down}, {".lora.up.weight", Role::Up},
      {".lora_A.weight", Role::Down},    {".lora_B.weight", Role::Up}};
  static const std::pair<const char*, Role> kKohyaSuffixes[] = {
      {".lora_down.weight", Role::Down}, {".lora_up.weight", Role::Up}, {".alpha", Role::Alpha}};
  if (starts_with(key, kDiffusersPrefix)) {
    for (const auto& [suffix, role] : kDiffusersSuffixes) {
      if (ends_with(key, suffix)) {
        const auto module_length = key.size() - kDiffusersPrefix.size() - std::string(suffix).size();
        return ParsedKey{key.substr(kDiffusersPrefix.size(), module_length), role, false};
      }
    }
  }
  if (starts_with(key, kKohyaPrefix)) {
    for (const auto& [suffix, role] : kKohyaSuffixes) {
      if (ends_with(key, suffix)) return ParsedKey{key.substr(0, key.size() - std::string(suffix).size()), role, true};
    }
  }
  return std::nullopt;
}

std::string kohya_stem(const std::string& module_path) {
  std::string flattened = module_path;
  std::replace(flattened.begin(), flattened.end(), '.', '_');
  return kKohyaPrefix + flattened;
}

void check_pair(const std::string& source, const std::string& name, const LoraAdapter& adapter) {
  if (!adapter.down.defined() || !adapter.up.defined()) {
    const auto& present = adapter.down.defined() ? adapter.down_key : adapter.up_key;
    throw dmx::format_error(source + ": '" + present + "' has no matching " +
                            (adapter.down.defined() ? "up" : "down") + " weight for adapter '" + name + "'");
  }
  if (adapter.down.dim() != 2 || adapter.up.dim() != 2 || adapter.down.size(0) != adapter.up.size(1)) {
    throw dmx::shape_error(source + ": '" + adapter.down_key + "' " + c10::str(adapter.down.sizes()) + " and '" +
                           adapter.up_key + "' " + c10::str(adapter.up.sizes()) +
                           " must be [r, in] and [out, r] with the same rank r");
  }
}

}  // namespace

LoraWeights LoraWeights::load(const std::string& path) {
  const auto file = dmx::io::SafetensorsFile::open(path);
  LoraWeights lora;
  lora.source_ = path;
  std::map<std::string, double> alphas;
  bool seen_diffusers = false;
  for (const auto& key : file.names()) {
    const auto parsed = parse_key(key);
    if (!parsed) {
      throw dmx::format_error(path + ": key '" + key +
                              "' is not a UNet LoRA weight (expected 'unet.<module>.lora.down.weight' / "
                              "'.lora.up.weight' or kohya 'lora_unet_<module>.lora_down.weight' / '.lora_up.weight' / "
                              "'.alpha'; text-encoder LoRA is not supported)");
    }
    (parsed->kohya ? lora.kohya_ : seen_diffusers) = true;
    if (lora.kohya_ && seen_diffusers) {
      throw dmx::format_error(path + ": key '" + key + "' mixes the kohya and diffusers LoRA layouts in one file");
    }
    if (parsed->role == Role::Alpha) {
      const auto alpha = file.tensor(key);
      if (alpha.numel() != 1) {
        throw dmx::shape_error(path + ": '" + key + "' must be a scalar, got shape " + c10::str(alpha.sizes()));
      }
      alphas[parsed->adapter] = alpha.to(at::kDouble).item<double>();
      continue;
    }
    auto& adapter = lora.adapters_[parsed->adapter];
    (parsed->role == Role::Down ? adapter.down : adapter.up) = file.tensor(key);
    (parsed->role == Role::Down ? adapter.down_key : adapter.up_key) = key;
  }
  if (lora.adapters_.empty()) throw dmx::format_error(path + ": holds no LoRA weights");
  for (auto& [name, adapter] : lora.adapters_) {
    check_pair(path, name, adapter);
    // kohya: scale alpha / rank (alpha defaults to the rank); diffusers files store no alpha and mean alpha = rank.
    const auto alpha = alphas.find(name);
    if (alpha != alphas.end()) adapter.alpha_over_rank = alpha->second / static_cast<double>(adapter.down.size(0));
  }
  for (const auto& [name, alpha] : alphas) {
    if (!lora.adapters_.count(name)) throw dmx::format_error(path + ": '" + name + ".alpha' has no adapter weights");
  }
  return lora;
}

void apply_lora(UNet2DConditionModel& unet, const LoraWeights& lora, double scale) {
  std::map<std::string, Linear*> projections;
  unet.for_each_attention_projection([&](const std::string& path, Linear& layer) {
    projections[lora.kohya_layout() ? kohya_stem(path) : path] = &layer;
  });

  // Check every adapter before touching the UNet, so that a bad file leaves it as it was.
  std::vector<std::pair<Linear*, const LoraAdapter*>> plan;
  for (const auto& [name, adapter] : lora.adapters()) {
    const auto target = projections.find(name);
    if (target == projections.end()) {
      throw dmx::not_found(lora.source() + ": '" + adapter.down_key + "' adapts '" + name +
                           "', which is not an attention projection (to_q/to_k/to_v/to_out.0) of this UNet");
    }
    const auto& weight = target->second->weight();
    if (adapter.down.size(1) != weight.size(1) || adapter.up.size(0) != weight.size(0)) {
      throw dmx::shape_error(lora.source() + ": '" + adapter.down_key + "' " + c10::str(adapter.down.sizes()) +
                             " / '" + adapter.up_key + "' " + c10::str(adapter.up.sizes()) + " do not fit '" + name +
                             "' (weight " + c10::str(weight.sizes()) + "): expected [r, " +
                             std::to_string(weight.size(1)) + "] and [" + std::to_string(weight.size(0)) + ", r]");
    }
    plan.emplace_back(target->second, &adapter);
  }

  remove_lora(unet);
  for (const auto& [layer, adapter] : plan) {
    layer->set_lora(adapter->down.to(unet.device(), unet.dtype()), adapter->up.to(unet.device(), unet.dtype()),
                    scale * adapter->alpha_over_rank);
  }
}

void remove_lora(UNet2DConditionModel& unet) {
  unet.for_each_attention_projection([](const std::string&, Linear& layer) { layer.clear_lora(); });
}

void merge_lora(UNet2DConditionModel& unet) {
  unet.for_each_attention_projection([](const std::string&, Linear& layer) { layer.merge(); });
}

void unmerge_lora(UNet2DConditionModel& unet) {
  unet.for_each_attention_projection([](const std::string&, Linear& layer) { layer.unmerge(); });
}

}  // namespace dmx::sd
