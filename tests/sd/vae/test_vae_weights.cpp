// A VAE folder whose weights do not fit its config.json is refused with an error that names the tensor.
#include "../sd_fixtures.hpp"
#include "../unet/component_copy.hpp"
#include "diffmix/error.hpp"
#include "diffmix/sd/autoencoder_kl.hpp"

#include <gtest/gtest.h>

namespace {

using dmx::test::ComponentCopy;
using dmx::test::NamedTensors;
using dmx::test::sd_fixture_dir;

const char* const kWeights = "diffusion_pytorch_model.safetensors";
const char* const kAttentionKey = "decoder.mid_block.attentions.0.to_q.weight";

std::string vae_dir() { return sd_fixture_dir() + "/model/vae"; }

std::string load_error(const std::string& dir, dmx::ErrorCategory expected_category) {
  try {
    dmx::sd::AutoencoderKL::load(dir);
  } catch (const dmx::Error& e) {
    EXPECT_EQ(e.category(), expected_category) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "loading succeeded";
  return "";
}

TEST(VaeWeights, MissingWeightIsNamed) {
  const ComponentCopy copy(vae_dir(), kWeights, [](NamedTensors& t) { dmx::test::remove_tensor(t, kAttentionKey); });
  const auto message = load_error(copy.dir(), dmx::ErrorCategory::NotFound);
  EXPECT_NE(message.find(kAttentionKey), std::string::npos) << message;
}

TEST(VaeWeights, MisshapedWeightIsNamed) {
  const ComponentCopy copy(vae_dir(), kWeights, [](NamedTensors& t) {
    auto& weight = dmx::test::tensor_named(t, "quant_conv.weight");
    weight = at::cat({weight, weight}, 0);
  });
  const auto message = load_error(copy.dir(), dmx::ErrorCategory::Shape);
  EXPECT_NE(message.find("quant_conv.weight"), std::string::npos) << message;
}

}  // namespace
