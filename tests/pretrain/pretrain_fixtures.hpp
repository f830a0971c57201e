// Shared by the pretraining tests: a tiny architecture and short phases that keep each test to seconds, and fresh
// temp folders.
#pragma once

#include "common/test_env.hpp"
#include "diffmix/config.hpp"
#include "diffmix/sd_pretrain/pretrain_config.hpp"

#include <filesystem>
#include <string>

namespace dmx::test {

inline std::string fresh_pretrain_dir(const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() / ("diffmix-pretrain-test-" + name);
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path.string();
}

// A config read the way `diffmix pretrain` reads one: 16 px images, 4 × 4 latents, one Fashion-MNIST image per
// class (shots = 1), a few steps per phase.
inline pretrain::PretrainConfig tiny_pretrain_config(const std::string& folder, int64_t vae_steps = 6,
                                                     int64_t unet_steps = 6, int64_t decoder_steps = 0) {
  const std::string text = "output = \"" + folder + "/model\"\nwork_dir = \"" + folder + "/work\"\nseed = 3\n" +
                           "[data]\nkind = \"fashion-mnist\"\nshots = 1\n"
                           "[pretrain]\nresolution = 16\nbatch_size = 4\ncheckpoint_every = 2\n"
                           "[vae]\nsteps = " + std::to_string(vae_steps) +
                           "\nlearning_rate = 1e-3\nblock_out_channels = [16, 16, 16]\nnorm_num_groups = 8\n"
                           "[unet]\nsteps = " + std::to_string(unet_steps) +
                           "\nlearning_rate = 1e-3\nblock_out_channels = [16, 32]\nlayers_per_block = 1\n"
                           "attention_heads = 2\nnorm_num_groups = 8\n"
                           "[text_encoder]\nhidden_size = 16\nintermediate_size = 32\nlayers = 1\nheads = 2\n"
                           "max_length = 16\n"
                           "[vae_decoder]\nsteps = " + std::to_string(decoder_steps) + "\nlearning_rate = 1e-3\n";
  const auto document = config::Document::parse_string(text, "tiny_pretrain.toml");
  const auto root = document.root();
  auto config = pretrain::read_pretrain_config(root);
  root.finish();
  return config;
}

inline bool fashion_mnist_installed() {
  return std::filesystem::exists(std::string(data::kFashionMnistDefaultRoot) + "/train-images-idx3-ubyte.gz");
}

}  // namespace dmx::test
