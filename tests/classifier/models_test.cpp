// The networks: torchvision's parameter names and counts, output shapes, and weights that round-trip through
// safetensors with torchvision keys.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "diffmix/classifier/classifier.hpp"
#include "diffmix/classifier/weights.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "model_checks.hpp"

namespace dmx::classifier {
namespace {

using test::parameter_count;
using test::temp_path;

TEST(ResNet, HasTorchvisionNamesAndParameterCounts) {
  // torchvision.models.resnet18() / resnet50() with 1000 classes.
  auto resnet18 = make_classifier({"resnet18", 1000, 3});
  EXPECT_EQ(parameter_count(*resnet18), 11689512);
  auto resnet50 = make_classifier({"resnet50", 1000, 3});
  EXPECT_EQ(parameter_count(*resnet50), 25557032);

  const auto state18 = named_state(*resnet18);
  for (const char* name : {"conv1.weight", "bn1.running_var", "bn1.num_batches_tracked", "layer1.1.conv2.weight",
                           "layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias", "fc.weight"})
    EXPECT_TRUE(state18.count(name)) << name;
  EXPECT_FALSE(state18.count("layer1.0.downsample.0.weight"));  // ResNet-18's first stage keeps its shape
  EXPECT_EQ(state18.size(), 122u);                              // torchvision's state_dict has 122 entries

  const auto state50 = named_state(*resnet50);
  for (const char* name : {"layer1.0.downsample.0.weight", "layer3.5.conv3.weight", "layer4.2.bn3.running_mean"})
    EXPECT_TRUE(state50.count(name)) << name;
  EXPECT_EQ(state50.size(), 320u);
  EXPECT_EQ(state50.at("fc.weight").sizes(), (std::vector<int64_t>{1000, 2048}));
}

TEST(Classifiers, MapImagesToLogits) {
  for (const auto& architecture : classifier_architectures()) {
    auto model = make_classifier({architecture, 7, 1, /*image_size=*/32});
    model->eval();
    at::NoGradGuard no_grad;
    const at::Tensor logits = model->forward(at::randn({2, 1, 32, 32}));
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 7})) << architecture;
  }
  EXPECT_THROW(make_classifier({"resnet101", 10, 3}), Error);
}

TEST(Weights, RoundTripThroughSafetensorsWithTheSameOutputs) {
  at::manual_seed(1);
  auto original = make_classifier({"resnet18", 5, 3});
  original->train();
  {
    at::NoGradGuard no_grad;
    original->forward(at::randn({4, 3, 32, 32}));  // move the BN statistics away from their initial values
  }
  const std::string path = temp_path("resnet18.safetensors");
  save_weights(*original, path);

  at::manual_seed(2);
  auto loaded = make_classifier({"resnet18", 5, 3});
  load_weights(*loaded, path);
  original->eval();
  loaded->eval();
  at::NoGradGuard no_grad;
  const at::Tensor input = at::randn({2, 3, 32, 32});
  EXPECT_TRUE(at::equal(original->forward(input), loaded->forward(input)));
}

TEST(Weights, LoadATorchvisionStyleFileWithAnotherHead) {
  // A file as torchvision's state_dict() would give it: every key, no num_batches_tracked (optional), 1000 classes.
  at::manual_seed(3);
  auto imagenet = make_classifier({"resnet18", 1000, 3});
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, tensor] : named_state(*imagenet))
    if (name.find("num_batches_tracked") == std::string::npos) tensors.emplace_back(name, tensor);
  const std::string path = temp_path("torchvision_resnet18.safetensors");
  io::save_safetensors(path, tensors);

  auto fine_tune = make_classifier({"resnet18", 10, 3});
  EXPECT_THROW(load_weights(*fine_tune, path), Error);  // the head does not fit
  load_weights(*fine_tune, path, {{fine_tune->head_prefix()}, false});
  EXPECT_TRUE(at::equal(named_state(*fine_tune).at("layer3.1.conv1.weight"),
                        named_state(*imagenet).at("layer3.1.conv1.weight")));
}

TEST(Weights, AMissingOrMisShapedTensorIsAnErrorNamingIt) {
  auto model = make_classifier({"small_cnn", 10, 3});
  auto state = named_state(*model);
  const at::Tensor conv2_before = state.at("conv2.weight").clone();

  std::vector<std::pair<std::string, at::Tensor>> missing;
  for (const auto& [name, tensor] : state)
    if (name != "bn2.running_mean") missing.emplace_back(name, tensor);
  const std::string missing_path = temp_path("missing.safetensors");
  io::save_safetensors(missing_path, missing);
  try {
    load_weights(*model, missing_path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bn2.running_mean"), std::string::npos) << e.what();
  }

  std::vector<std::pair<std::string, at::Tensor>> misshaped;
  for (const auto& [name, tensor] : state)
    misshaped.emplace_back(name, name == "conv3.weight" ? at::zeros({128, 64, 5, 5}) : at::zeros_like(tensor));
  const std::string misshaped_path = temp_path("misshaped.safetensors");
  io::save_safetensors(misshaped_path, misshaped);
  try {
    load_weights(*model, misshaped_path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Shape);
    EXPECT_NE(std::string(e.what()).find("conv3.weight"), std::string::npos) << e.what();
  }
  // Nothing was copied from the rejected files.
  EXPECT_TRUE(at::equal(named_state(*model).at("conv2.weight"), conv2_before));
}

}  // namespace
}  // namespace dmx::classifier
