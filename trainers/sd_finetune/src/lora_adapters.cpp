#include "diffmix/sd_finetune/lora_adapters.hpp"

#include "diffmix/io/safetensors.hpp"

namespace dmx::finetune {

std::string lora_down_key(const std::string& module_path) { return "unet." + module_path + ".lora.down.weight"; }
std::string lora_up_key(const std::string& module_path) { return "unet." + module_path + ".lora.up.weight"; }

UNetLora UNetLora::attach(sd::UNet2DConditionModel& unet, int64_t rank, at::Generator generator) {
  UNetLora lora;
  lora.rank_ = rank;
  const auto options = at::TensorOptions().dtype(unet.dtype()).device(unet.device());
  unet.for_each_attention_projection([&](const std::string& path, sd::Linear& layer) {
    // diffusers' LoRALinearLayer: nn.init.normal_(down, std=1/rank), zeros_(up).
    auto down = at::normal(0.0, 1.0 / static_cast<double>(rank), {rank, layer.in_features()}, generator,
                           at::TensorOptions().dtype(at::kFloat))
                    .to(options);
    auto up = at::zeros({layer.out_features(), rank}, options);
    down.set_requires_grad(true);
    up.set_requires_grad(true);
    layer.set_lora(down, up, 1.0);
    lora.parameters_.emplace_back(lora_down_key(path), down);
    lora.parameters_.emplace_back(lora_up_key(path), up);
  });
  return lora;
}

void UNetLora::save(const std::string& path, const std::map<std::string, std::string>& metadata) const {
  NamedTensors cpu;
  for (const auto& [name, tensor] : parameters_) cpu.emplace_back(name, tensor.detach().to(at::kCPU, at::kFloat));
  io::save_safetensors(path, cpu, metadata);
}

}  // namespace dmx::finetune
