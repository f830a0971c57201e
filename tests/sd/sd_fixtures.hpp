// Shared by the SD parity tests: where the reference fixtures are, and how close is close enough.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "../common/relative_error.hpp"
#include "../common/test_env.hpp"

namespace dmx::test {

// The fixture set: $DIFFMIX_SD_FIXTURES, else the copy kept in the source tree.
inline std::string sd_fixture_dir() { return env_or("DIFFMIX_SD_FIXTURES", source_dir() + "/tests/fixtures/sd-tiny"); }
// The tiny diffusers model of the fixture set.
inline std::string sd_fixture_model_dir() { return sd_fixture_dir() + "/model"; }
// The file name diffusers gives a UNet's or VAE's weights.
inline constexpr const char* kDiffusersWeightsFile = "diffusion_pytorch_model.safetensors";

inline constexpr double kParityTolerance = 1e-4;

}  // namespace dmx::test
