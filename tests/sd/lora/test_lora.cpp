// UNet LoRA against diffusers 0.27.2 + PEFT 0.10 on the `lora` fixture case: both file layouts, user scale,
// merge/unmerge, removal, and the errors for adapters that do not fit.
#include "../sd_fixtures.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/sd/lora.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

namespace {

using dmx::test::kParityTolerance;
using dmx::test::relative_error;
using dmx::test::sd_fixture_dir;

std::string diffusers_lora_path() { return sd_fixture_dir() + "/cases/lora/pytorch_lora_weights.safetensors"; }
std::string kohya_lora_path() { return sd_fixture_dir() + "/cases/lora/kohya_lora.safetensors"; }

class LoraParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reference_.emplace(dmx::io::SafetensorsFile::open(sd_fixture_dir() + "/cases/lora.safetensors"));
  }
  static void TearDownTestSuite() { reference_.reset(); }
  void SetUp() override { unet_.emplace(dmx::sd::UNet2DConditionModel::load(sd_fixture_dir() + "/model")); }

  static at::Tensor ref(const std::string& name) { return reference_->tensor(name); }
  at::Tensor run() const {
    return unet_->forward(ref("sample"), ref("timestep"), ref("encoder_hidden_states"));
  }

  std::optional<dmx::sd::UNet2DConditionModel> unet_;
  static std::optional<dmx::io::SafetensorsFile> reference_;
};

std::optional<dmx::io::SafetensorsFile> LoraParity::reference_;

TEST_F(LoraParity, WithoutLoraMatchesTheBaseModel) {
  EXPECT_LT(relative_error(run(), ref("out_base")), kParityTolerance);
}

TEST_F(LoraParity, DiffusersLayoutAtScaleOne) {
  const auto lora = dmx::sd::LoraWeights::load(diffusers_lora_path());
  EXPECT_FALSE(lora.kohya_layout());
  dmx::sd::apply_lora(*unet_, lora, 1.0);
  EXPECT_LT(relative_error(run(), ref("out_lora_scale1")), kParityTolerance);
  EXPECT_LT(relative_error(run(), ref("out_reloaded")), kParityTolerance);
}

TEST_F(LoraParity, DiffusersLayoutAtHalfScale) {
  dmx::sd::apply_lora(*unet_, dmx::sd::LoraWeights::load(diffusers_lora_path()), 0.5);
  EXPECT_LT(relative_error(run(), ref("out_lora_scale0.5")), kParityTolerance);
}

TEST_F(LoraParity, KohyaLayoutUsesAlphaOverRank) {
  const auto lora = dmx::sd::LoraWeights::load(kohya_lora_path());
  EXPECT_TRUE(lora.kohya_layout());
  dmx::sd::apply_lora(*unet_, lora, 1.0);
  EXPECT_LT(relative_error(run(), ref("out_kohya")), kParityTolerance);
}

TEST_F(LoraParity, MergeUnmergeAndRemove) {
  dmx::sd::apply_lora(*unet_, dmx::sd::LoraWeights::load(diffusers_lora_path()), 1.0);
  dmx::sd::merge_lora(*unet_);
  EXPECT_LT(relative_error(run(), ref("out_fused")), kParityTolerance);
  dmx::sd::unmerge_lora(*unet_);
  EXPECT_LT(relative_error(run(), ref("out_lora_scale1")), kParityTolerance);
  dmx::sd::merge_lora(*unet_);
  dmx::sd::remove_lora(*unet_);
  EXPECT_LT(relative_error(run(), ref("out_base")), kParityTolerance);
}

TEST_F(LoraParity, EveryAttentionProjectionIsAdapted) {
  const auto lora = dmx::sd::LoraWeights::load(diffusers_lora_path());
  size_t projections = 0;
  unet_->for_each_attention_projection([&](const std::string& path, dmx::sd::Linear&) {
    ++projections;
    EXPECT_EQ(lora.adapters().count(path), 1u) << path;
  });
  EXPECT_EQ(projections, lora.adapters().size());
}

// A LoRA file written next to the test, from the fixture's adapters with one change.
class EditedLora {
 public:
  explicit EditedLora(const std::function<void(std::vector<std::pair<std::string, at::Tensor>>&)>& edit) {
    const auto source = dmx::io::SafetensorsFile::open(diffusers_lora_path());
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& name : source.names()) tensors.emplace_back(name, source.tensor(name));
    edit(tensors);
    std::string pattern = (std::filesystem::temp_directory_path() / "diffmix-lora-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    dmx::io::save_safetensors(path(), tensors);
  }
  ~EditedLora() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string path() const { return dir_ + "/lora.safetensors"; }

 private:
  std::string dir_;
};

std::string apply_error(dmx::sd::UNet2DConditionModel& unet, const std::string& path) {
  try {
    dmx::sd::apply_lora(unet, dmx::sd::LoraWeights::load(path), 1.0);
  } catch (const dmx::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "the LoRA was accepted";
  return "";
}

TEST_F(LoraParity, WrongRankIsNamed) {
  const std::string key = "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_v.lora.up.weight";
  const EditedLora edited([&](auto& tensors) {
    for (auto& [name, tensor] : tensors) {
      if (name == key) tensor = at::cat({tensor, tensor}, 1);
    }
  });
  const auto message = apply_error(*unet_, edited.path());
  EXPECT_NE(message.find("attn2.to_v"), std::string::npos) << message;
}

TEST_F(LoraParity, WrongInputWidthIsNamedAndLeavesTheUNetUnchanged) {
  const std::string key = "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora.down.weight";
  const EditedLora edited([&](auto& tensors) {
    for (auto& [name, tensor] : tensors) {
      if (name == key) tensor = at::cat({tensor, tensor}, 1);
    }
  });
  const auto message = apply_error(*unet_, edited.path());
  EXPECT_NE(message.find(key), std::string::npos) << message;
  EXPECT_LT(relative_error(run(), ref("out_base")), kParityTolerance);
}

TEST_F(LoraParity, UnknownModuleIsNamed) {
  const std::string stem = "unet.mid_block.attentions.0.transformer_blocks.7.attn1.to_q";
  const EditedLora edited([&](auto& tensors) {
    tensors.emplace_back(stem + ".lora.down.weight", at::zeros({4, 8}));
    tensors.emplace_back(stem + ".lora.up.weight", at::zeros({8, 4}));
  });
  const auto message = apply_error(*unet_, edited.path());
  EXPECT_NE(message.find("transformer_blocks.7.attn1.to_q"), std::string::npos) << message;
}

TEST_F(LoraParity, UpWithoutDownIsNamed) {
  const std::string key = "unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight";
  const EditedLora edited([&](auto& tensors) {
    for (auto it = tensors.begin(); it != tensors.end(); ++it) {
      if (it->first == key) {
        tensors.erase(it);
        break;
      }
    }
  });
  const auto message = apply_error(*unet_, edited.path());
  EXPECT_NE(message.find("attn1.to_q"), std::string::npos) << message;
}

TEST(LoraWeights, UnknownKeyIsNamed) {
  std::string pattern = (std::filesystem::temp_directory_path() / "diffmix-lora-test-XXXXXX").string();
  ASSERT_TRUE(mkdtemp(pattern.data()));
  const auto path = pattern + "/odd.safetensors";
  dmx::io::save_safetensors(path, {{"unet.conv_in.weight", at::zeros({2, 2})}});
  try {
    dmx::sd::LoraWeights::load(path);
    ADD_FAILURE() << "accepted";
  } catch (const dmx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unet.conv_in.weight"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(pattern);
}

}  // namespace
