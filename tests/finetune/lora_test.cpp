// LoRA adapters on the UNet: a fresh adapter changes nothing; merge + unmerge restores the weights exactly.
#include "diffmix/sd_finetune/lora_adapters.hpp"

#include "diffmix/sd/lora.hpp"
#include "finetune/finetune_fixtures.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <map>

namespace dmx::finetune {
namespace {

struct UNetInputs {
  at::Tensor sample, timestep, context;
};

UNetInputs random_inputs() {
  auto generator = at::detail::createCPUGenerator(3);
  return {at::randn({2, 4, 16, 16}, generator, at::kFloat), at::tensor({10, 700}, at::kLong),
          at::randn({2, 77, 32}, generator, at::kFloat)};
}

std::map<std::string, at::Tensor> projection_weights(sd::UNet2DConditionModel& unet) {
  std::map<std::string, at::Tensor> weights;
  unet.for_each_attention_projection(
      [&](const std::string& path, sd::Linear& layer) { weights[path] = layer.weight().clone(); });
  return weights;
}

TEST(FinetuneLora, FreshAdapterLeavesUNetOutputBitIdentical) {
  auto unet = sd::UNet2DConditionModel::load(test::tiny_model_dir());
  const auto in = random_inputs();
  at::NoGradGuard no_grad;
  const auto before = unet.forward(in.sample, in.timestep, in.context);
  const auto lora = UNetLora::attach(unet, 10, at::detail::createCPUGenerator(1));
  const auto after = unet.forward(in.sample, in.timestep, in.context);
  EXPECT_TRUE(at::equal(before, after));
  EXPECT_GT(lora.num_projections(), 0);
}

TEST(FinetuneLora, AdaptersCoverEveryAttentionProjectionWithDiffusersKeys) {
  auto unet = sd::UNet2DConditionModel::load(test::tiny_model_dir());
  const auto lora = UNetLora::attach(unet, 4, at::detail::createCPUGenerator(1));
  int64_t projections = 0;
  unet.for_each_attention_projection([&](const std::string&, sd::Linear& layer) {
    ++projections;
    EXPECT_TRUE(layer.has_lora());
    EXPECT_EQ(layer.lora_scale(), 1.0);
  });
  EXPECT_EQ(lora.num_projections(), projections);
  // to_q, to_k, to_v, to_out.0 of attn1 and attn2 per transformer block.
  EXPECT_EQ(projections % 8, 0);
  const auto& [first_name, first_down] = lora.parameters().front();
  EXPECT_EQ(first_name.rfind("unet.", 0), 0u);
  EXPECT_NE(first_name.find(".lora.down.weight"), std::string::npos);
  EXPECT_EQ(first_down.size(0), 4);
  EXPECT_TRUE(first_down.requires_grad());
  // down ~ N(0, 1/r): the sample standard deviation of all down weights is close to 1/4.
  std::vector<at::Tensor> downs;
  for (const auto& [name, tensor] : lora.parameters())
    if (name.find(".lora.down.") != std::string::npos) downs.push_back(tensor.detach().flatten());
  EXPECT_NEAR(at::cat(downs).std().item<double>(), 0.25, 0.02);
  for (const auto& [name, tensor] : lora.parameters())
    if (name.find(".lora.up.") != std::string::npos) EXPECT_EQ(tensor.abs().max().item<double>(), 0.0) << name;
}

TEST(FinetuneLora, MergeThenUnmergeRestoresWeightsExactly) {
  auto unet = sd::UNet2DConditionModel::load(test::tiny_model_dir());
  const auto original = projection_weights(unet);
  const auto lora = UNetLora::attach(unet, 4, at::detail::createCPUGenerator(1));
  {
    // Give the adapters a non-zero effect, as training would.
    at::NoGradGuard no_grad;
    auto generator = at::detail::createCPUGenerator(2);
    for (const auto& [name, tensor] : lora.parameters()) tensor.copy_(at::randn(tensor.sizes(), generator) * 0.1);
  }
  const auto in = random_inputs();
  at::NoGradGuard no_grad;
  const auto unmerged_output = unet.forward(in.sample, in.timestep, in.context);
  sd::merge_lora(unet);
  const auto merged_weights = projection_weights(unet);
  const auto merged_output = unet.forward(in.sample, in.timestep, in.context);
  sd::unmerge_lora(unet);

  bool any_changed = false;
  for (const auto& [path, weight] : projection_weights(unet)) {
    EXPECT_TRUE(at::equal(weight, original.at(path))) << path;
    any_changed = any_changed || !at::equal(merged_weights.at(path), original.at(path));
  }
  EXPECT_TRUE(any_changed);
  const double scale = unmerged_output.abs().max().item<double>();
  EXPECT_LT((merged_output - unmerged_output).abs().max().item<double>(), 1e-4 * scale);
  EXPECT_TRUE(at::equal(unet.forward(in.sample, in.timestep, in.context), unmerged_output));
}

}  // namespace
}  // namespace dmx::finetune
