// A recorded pipeline run (cases/pipeline_*.safetensors): its tensors and the call's settings from the metadata,
// and a step callback that compares every denoising step with the recording.
#pragma once

#include "../sd_fixtures.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <string>

namespace dmx::test {

class PipelineCase {
 public:
  explicit PipelineCase(const std::string& name)
      : file_(dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/" + name + ".safetensors")) {}

  at::Tensor tensor(const std::string& name) const { return file_.tensor(name); }
  // A metadata value: JSON for numbers and structures, the raw text for plain strings (prompts).
  nlohmann::json meta(const std::string& key) const {
    const auto& text = file_.metadata().at(key);
    auto value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    return value.is_discarded() ? nlohmann::json(text) : value;
  }

  // Compares each step's UNet input and output, guided noise and new latents with step.<i>.*; records the worst
  // relative error seen.
  dmx::sd::StepCallback step_checker() {
    return [this](const dmx::sd::DenoisingStep& step) {
      const std::string prefix = "step." + std::to_string(step.index) + ".";
      EXPECT_EQ(step.timestep, tensor(prefix + "t").item<int64_t>()) << prefix;
      using Named = std::pair<const char*, at::Tensor>;
      for (const auto& [name, actual] : std::initializer_list<Named>{{"unet_in", step.unet_input},
                                                                    {"unet_out", step.unet_output},
                                                                    {"noise_pred", step.noise_pred},
                                                                    {"latents", step.latents}}) {
        const double error = relative_error(actual.cpu(), tensor(prefix + name));
        EXPECT_LT(error, kParityTolerance) << prefix << name;
        worst_step_error_ = std::max(worst_step_error_, error);
      }
      ++steps_seen_;
    };
  }
  int64_t steps_seen() const { return steps_seen_; }
  double worst_step_error() const { return worst_step_error_; }

 private:
  dmx::io::SafetensorsFile file_;
  int64_t steps_seen_ = 0;
  double worst_step_error_ = 0.0;
};

}  // namespace dmx::test
