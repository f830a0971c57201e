// diffusers' JSON configs as the engine reads them: one input is offered to every reader (UNet, VAE, scheduler,
// CLIP text encoder, model_index.json), each of which must accept it or name what is wrong.
#include "diffmix/sd/autoencoder_kl.hpp"
#include "diffmix/sd/clip_text_model.hpp"
#include "diffmix/sd/config_file.hpp"
#include "diffmix/sd/model_folder.hpp"
#include "diffmix/sd/scheduler_config.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string path = dmx::fuzz::write_scratch_file("config.json", text);
  dmx::fuzz::write_scratch_file("model/model_index.json", text);
  using namespace dmx::sd;
  dmx::fuzz::expect_clean_failure([&] { (void)UNet2DConditionConfig::load(path); });
  dmx::fuzz::expect_clean_failure([&] { (void)AutoencoderKLConfig::load(path); });
  dmx::fuzz::expect_clean_failure([&] { (void)NoiseSchedule::from_config(SchedulerConfig::load(path)); });
  dmx::fuzz::expect_clean_failure([&] { (void)CLIPTextConfig::read(ConfigFile::open(path)); });
  dmx::fuzz::expect_clean_failure([&] {
    const auto model = ModelFolder::open(dmx::fuzz::scratch_folder() + "/model");
    for (const auto& [component, class_name] : model.components()) (void)model.class_name(component);
  });
  return 0;
}
