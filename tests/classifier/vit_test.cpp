// The Vision Transformer: timm's parameter names, shapes and counts, the attention and block numerics against an
// explicit implementation, training through the class token, and weights that load across image sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "diffmix/classifier/classifier.hpp"
#include "diffmix/classifier/loss.hpp"
#include "diffmix/classifier/sgd.hpp"
#include "diffmix/classifier/vit.hpp"
#include "diffmix/classifier/weights.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/safetensors.hpp"
#include "model_checks.hpp"
#include "common/relative_error.hpp"

namespace dmx::classifier {
namespace {

using test::parameter_count;
using test::relative_error;
using test::temp_path;

namespace fs = std::filesystem;

// Small enough to train in a second on two cores: 8-pixel patches, 2 blocks of width 32 with 4 heads.
const VitShape kTestShape{8, 32, 2, 4, 4};

at::Tensor parameter(const torch::nn::Module& module, const std::string& name) {
  return named_state(module).at(name).detach().to(at::kDouble);
}

std::vector<int64_t> shape_of(const std::map<std::string, at::Tensor>& state, const std::string& name) {
  return state.at(name).sizes().vec();
}

TEST(VisionTransformer, VitB16HasTimmsParameterCountNamesAndShapes) {
  // timm's vit_base_patch16_224 (and torchvision's vit_b_16) with 1000 classes: 86,567,656 parameters in 152 tensors.
  auto model = make_classifier({"vit_b16", 1000, 3, 224});
  EXPECT_EQ(parameter_count(*model), 86567656);
  EXPECT_EQ(model->head_prefix(), "head.");

  const auto state = named_state(*model);
  std::set<std::string> expected = {"cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
                                    "norm.weight", "norm.bias", "head.weight", "head.bias"};
  for (int block = 0; block < 12; ++block)
    for (const char* layer : {"norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"})
      for (const char* kind : {"weight", "bias"})
        expected.insert("blocks." + std::to_string(block) + "." + layer + "." + kind);
  std::set<std::string> names;
  for (const auto& item : state) names.insert(item.first);
  EXPECT_EQ(names, expected);

  using Shape = std::vector<int64_t>;
  EXPECT_EQ(shape_of(state, "cls_token"), (Shape{1, 1, 768}));
  EXPECT_EQ(shape_of(state, "pos_embed"), (Shape{1, 197, 768}));
  EXPECT_EQ(shape_of(state, "patch_embed.proj.weight"), (Shape{768, 3, 16, 16}));
  EXPECT_EQ(shape_of(state, "patch_embed.proj.bias"), (Shape{768}));
  EXPECT_EQ(shape_of(state, "blocks.0.norm1.weight"), (Shape{768}));
  EXPECT_EQ(shape_of(state, "blocks.5.attn.qkv.weight"), (Shape{2304, 768}));
  EXPECT_EQ(shape_of(state, "blocks.5.attn.qkv.bias"), (Shape{2304}));
  EXPECT_EQ(shape_of(state, "blocks.11.attn.proj.weight"), (Shape{768, 768}));
  EXPECT_EQ(shape_of(state, "blocks.11.mlp.fc1.weight"), (Shape{3072, 768}));
  EXPECT_EQ(shape_of(state, "blocks.11.mlp.fc2.weight"), (Shape{768, 3072}));
  EXPECT_EQ(shape_of(state, "head.weight"), (Shape{1000, 768}));

  // timm's vit_tiny_patch16_224: 5,717,416 parameters.
  EXPECT_EQ(parameter_count(*make_classifier({"vit_tiny16", 1000, 3, 224})), 5717416);
}

TEST(VisionTransformer, ThePatchGridFollowsTheImageSize) {
  const VisionTransformer at384(VisionTransformer::vit_tiny16(), 10, 3, 384);
  EXPECT_EQ(at384.grid_size(), 24);
  EXPECT_EQ(named_state(at384).at("pos_embed").sizes(), (std::vector<int64_t>{1, 577, 192}));
  EXPECT_THROW(VisionTransformer(VisionTransformer::vit_tiny16(), 10, 3, 100), Error);  // not a multiple of 16
  const VitShape uneven_heads{16, 100, 1, 3, 4};  // 100 does not split into 3 heads
  EXPECT_THROW(VisionTransformer(uneven_heads, 10, 3, 32), Error);
}

TEST(VisionTransformer, InitialisesAsTimmDoes) {
  at::manual_seed(0);
  VisionTransformer model(VisionTransformer::vit_tiny16(), 10, 3, 224);
  const auto state = named_state(model);
  const at::Tensor qkv = state.at("blocks.3.attn.qkv.weight");
  EXPECT_NEAR(qkv.std().item<double>(), 0.02, 0.001);
  EXPECT_LE(qkv.abs().max().item<double>(), 2.0);
  EXPECT_NEAR(state.at("pos_embed").std().item<double>(), 0.02, 0.001);
  EXPECT_LT(state.at("cls_token").abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(at::equal(state.at("blocks.3.mlp.fc1.bias"), at::zeros({768})));
  EXPECT_TRUE(at::equal(state.at("blocks.3.norm2.weight"), at::ones({192})));
}

TEST(VisionTransformer, MapsImagesToLogitsAndChecksTheImageSize) {
  at::manual_seed(1);
  VisionTransformer model(kTestShape, 5, 3, 32);
  model.eval();
  at::NoGradGuard no_grad;
  EXPECT_EQ(model.forward(at::randn({3, 3, 32, 32})).sizes(), (std::vector<int64_t>{3, 5}));
  try {
    model.forward(at::randn({3, 3, 40, 40}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Shape);
    EXPECT_NE(std::string(e.what()).find("3×32×32"), std::string::npos) << e.what();
  }
}

// softmax(q·kᵀ/√d)·v written out head by head in float64, from the module's own weights.
at::Tensor explicit_attention(const at::Tensor& x, const at::Tensor& qkv_weight, const at::Tensor& qkv_bias,
                              const at::Tensor& proj_weight, const at::Tensor& proj_bias, int64_t heads) {
  const int64_t width = x.size(-1), head_dim = width / heads;
  const at::Tensor qkv = at::matmul(x, qkv_weight.t()) + qkv_bias;
  std::vector<at::Tensor> outputs;
  for (int64_t h = 0; h < heads; ++h) {
    const at::Tensor q = qkv.slice(-1, h * head_dim, (h + 1) * head_dim);
    const at::Tensor k = qkv.slice(-1, width + h * head_dim, width + (h + 1) * head_dim);
    const at::Tensor v = qkv.slice(-1, 2 * width + h * head_dim, 2 * width + (h + 1) * head_dim);
    const at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim));
    const at::Tensor exp = (scores - std::get<0>(scores.max(-1, true))).exp();
    outputs.push_back(at::matmul(exp / exp.sum(-1, true), v));
  }
  return at::matmul(at::cat(outputs, -1), proj_weight.t()) + proj_bias;
}

at::Tensor explicit_layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const at::Tensor mean = x.mean(-1, true);
  const at::Tensor variance = (x - mean).pow(2).mean(-1, true);
  return (x - mean) / (variance + 1e-6).sqrt() * weight + bias;
}

TEST(VitNumerics, AttentionMatchesTheExplicitFormula) {
  at::manual_seed(2);
  VitAttention attention(64, 4);
  const at::Tensor x = at::randn({2, 7, 64});
  at::NoGradGuard no_grad;
  const at::Tensor ours = attention->forward(x);
  const at::Tensor reference =
      explicit_attention(x.to(at::kDouble), parameter(*attention, "qkv.weight"), parameter(*attention, "qkv.bias"),
                         parameter(*attention, "proj.weight"), parameter(*attention, "proj.bias"), 4);
  EXPECT_LT(relative_error(ours, reference), 1e-5);
}

TEST(VitNumerics, BlockIsPreNormWithExactGelu) {
  at::manual_seed(3);
  VitBlock block(VitShape{16, 48, 1, 3, 4});
  {
    // Move the norms away from the identity so that their weights and eps matter.
    at::NoGradGuard no_grad;
    for (auto& item : block->named_parameters())
      if (item.key().find("norm") != std::string::npos) item.value().normal_(1.0, 0.3);
  }
  const at::Tensor x = at::randn({2, 5, 48}) * 0.01;  // a small variance, so that the LayerNorm eps matters
  at::NoGradGuard no_grad;
  const at::Tensor ours = block->forward(x);

  const auto p = [&](const std::string& name) { return parameter(*block, name); };
  const at::Tensor xd = x.to(at::kDouble);
  const at::Tensor h = xd + explicit_attention(explicit_layer_norm(xd, p("norm1.weight"), p("norm1.bias")),
                                               p("attn.qkv.weight"), p("attn.qkv.bias"), p("attn.proj.weight"),
                                               p("attn.proj.bias"), 3);
  const at::Tensor hidden = at::matmul(explicit_layer_norm(h, p("norm2.weight"), p("norm2.bias")),
                                       p("mlp.fc1.weight").t()) + p("mlp.fc1.bias");
  const at::Tensor gelu = 0.5 * hidden * (1.0 + at::erf(hidden / std::sqrt(2.0)));
  const at::Tensor reference = h + at::matmul(gelu, p("mlp.fc2.weight").t()) + p("mlp.fc2.bias");
  EXPECT_LT(relative_error(ours, reference), 1e-5);
}

TEST(VisionTransformer, OverfitsAFewImagesThroughTheClassToken) {
  at::manual_seed(4);
  VisionTransformer model(kTestShape, 8, 3, 32);
  model.train();
  const at::Tensor images = at::randn({8, 3, 32, 32});
  const at::Tensor labels = at::eye(8);  // every image its own class
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  for (const auto& item : model.named_parameters()) parameters.emplace_back(item.key(), item.value());
  MomentumSgd optimizer(parameters, {0.9, 0.0});

  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 60; ++step) {
    const at::Tensor loss = soft_cross_entropy(model.forward(images), labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step(0.05);
    (step == 0 ? first_loss : last_loss) = loss.item<double>();
  }
  EXPECT_NEAR(first_loss, std::log(8.0), 0.5);  // a fresh head guesses uniformly
  EXPECT_LT(last_loss, 0.1 * first_loss) << "first " << first_loss << ", last " << last_loss;
}

TEST(VitWeights, RoundTripThroughSafetensorsWithTheSameLogits) {
  at::manual_seed(5);
  VisionTransformer original(kTestShape, 6, 3, 32);
  const std::string path = temp_path("vit.safetensors");
  save_weights(original, path);

  at::manual_seed(6);
  VisionTransformer loaded(kTestShape, 6, 3, 32);
  load_weights(loaded, path);
  original.eval();
  loaded.eval();
  at::NoGradGuard no_grad;
  const at::Tensor images = at::randn({2, 3, 32, 32});
  EXPECT_TRUE(at::equal(original.forward(images), loaded.forward(images)));
}

TEST(PositionEmbedding, ResamplingToTheSameGridIsTheIdentity) {
  const at::Tensor pos_embed = at::randn({1, 1 + 9, 8});
  EXPECT_TRUE(at::equal(resample_position_embedding(pos_embed, 3), pos_embed));
}

TEST(PositionEmbedding, KeepsTheClassRowAndResizesTheGrid) {
  at::manual_seed(7);
  const at::Tensor class_row = at::randn({1, 1, 4});
  // A grid that is constant per channel stays constant under an interpolation whose weights sum to one.
  const at::Tensor channel_values = at::tensor({0.5f, -1.0f, 2.0f, 0.0f}).reshape({1, 1, 4});
  const at::Tensor pos_embed = at::cat({class_row, channel_values.expand({1, 14 * 14, 4})}, 1);
  const at::Tensor resized = resample_position_embedding(pos_embed, 24);
  ASSERT_EQ(resized.sizes(), (std::vector<int64_t>{1, 1 + 24 * 24, 4}));
  EXPECT_TRUE(at::equal(resized.slice(1, 0, 1), class_row));
  EXPECT_LT(relative_error(resized.slice(1, 1), channel_values.expand({1, 24 * 24, 4})), 1e-6);

  // A smooth ramp across the columns stays a ramp, monotone along each row.
  const at::Tensor ramp = at::linspace(-1, 1, 6).repeat({6}).reshape({1, 36, 1});
  const at::Tensor ramp_resized = resample_position_embedding(at::cat({at::zeros({1, 1, 1}), ramp}, 1), 10);
  const at::Tensor rows = ramp_resized.slice(1, 1).reshape({10, 10});
  EXPECT_TRUE((rows.slice(1, 1) > rows.slice(1, 0, 9)).all().item<bool>());

  EXPECT_THROW(resample_position_embedding(at::zeros({1, 1 + 7, 4}), 3), Error);  // 7 is no square
  EXPECT_THROW(resample_position_embedding(at::zeros({2, 10, 4}), 3), Error);
}

// A pretrained file as timm would save it: every tensor of a network with 1000 classes built at another image size.
std::string save_pretrained(const VitShape& shape, int64_t image_size, const std::string& name,
                            const std::map<std::string, at::Tensor>& replacements = {}) {
  at::manual_seed(8);
  const VisionTransformer pretrained(shape, 1000, 3, image_size);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [key, tensor] : named_state(pretrained))
    tensors.emplace_back(key, replacements.count(key) ? replacements.at(key) : tensor);
  const std::string path = temp_path(name);
  io::save_safetensors(path, tensors);
  return path;
}

TEST(VitWeights, PretrainedWeightsOfAnotherImageSizeAreResampled) {
  const VitShape shape{16, 32, 1, 2, 4};
  const std::string path = save_pretrained(shape, 48, "vit_48px.safetensors");  // 3×3 patches
  const auto file = io::SafetensorsFile::open(path);

  VisionTransformer fine_tune(shape, 10, 3, 64);  // 4×4 patches
  const at::Tensor head_before = named_state(fine_tune).at("head.weight").clone();
  load_pretrained(fine_tune, path);
  const auto state = named_state(fine_tune);
  EXPECT_EQ(state.at("pos_embed").sizes(), (std::vector<int64_t>{1, 17, 32}));
  EXPECT_TRUE(at::equal(state.at("pos_embed"), resample_position_embedding(file.tensor("pos_embed"), 4)));
  EXPECT_TRUE(at::equal(state.at("blocks.0.attn.qkv.weight"), file.tensor("blocks.0.attn.qkv.weight")));
  EXPECT_TRUE(at::equal(state.at("head.weight"), head_before));  // the head is not loaded
  at::NoGradGuard no_grad;
  EXPECT_EQ(fine_tune.forward(at::randn({1, 3, 64, 64})).sizes(), (std::vector<int64_t>{1, 10}));

  // Loaded at its own size, the embedding is copied as it is.
  VisionTransformer same_size(shape, 10, 3, 48);
  load_pretrained(same_size, path);
  EXPECT_TRUE(at::equal(named_state(same_size).at("pos_embed"), file.tensor("pos_embed")));

  // Without an adapter, load_weights still insists on the exact shape.
  VisionTransformer exact(shape, 1000, 3, 64);
  try {
    load_weights(exact, path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::Shape);
    EXPECT_NE(std::string(e.what()).find("pos_embed"), std::string::npos) << e.what();
  }
}

TEST(VitWeights, AnEmbeddingOfAnotherWidthOrAnyOtherMisfitIsStillAnErrorNamingIt) {
  const VitShape shape{16, 32, 1, 2, 4};
  VisionTransformer model(shape, 10, 3, 64);
  const at::Tensor pos_embed_before = named_state(model).at("pos_embed").clone();

  const auto expect_shape_error = [&](const std::string& path, const std::string& key) {
    try {
      load_pretrained(model, path);
      FAIL() << "no error for " << key;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::Shape);
      const std::string message = e.what();
      EXPECT_NE(message.find("'" + key + "'"), std::string::npos) << message;
      EXPECT_NE(message.find(path), std::string::npos) << message;
    }
  };
  expect_shape_error(save_pretrained(shape, 48, "wide.safetensors", {{"pos_embed", at::zeros({1, 10, 33})}}),
                     "pos_embed");
  expect_shape_error(save_pretrained(shape, 48, "not_square.safetensors", {{"pos_embed", at::zeros({1, 8, 32})}}),
                     "pos_embed");
  expect_shape_error(save_pretrained(shape, 64, "qkv.safetensors", {{"blocks.0.attn.qkv.weight", at::zeros({96, 31})}}),
                     "blocks.0.attn.qkv.weight");
  // Nothing was copied from the rejected files.
  EXPECT_TRUE(at::equal(named_state(model).at("pos_embed"), pos_embed_before));
}

// torchvision's names for a one-block ViT, written out: what torchvision.models.vit_b_16().state_dict() holds per
// block. `mlp_first`, `mlp_second`: "mlp.0" / "mlp.3" (torchvision >= 0.14) or "mlp.linear_1" / "mlp.linear_2".
std::map<std::string, std::string> torchvision_names(const std::string& mlp_first, const std::string& mlp_second) {
  const std::string block = "encoder.layers.encoder_layer_0.";
  return {{"cls_token", "class_token"},
          {"pos_embed", "encoder.pos_embedding"},
          {"patch_embed.proj.weight", "conv_proj.weight"},
          {"patch_embed.proj.bias", "conv_proj.bias"},
          {"blocks.0.norm1.weight", block + "ln_1.weight"},
          {"blocks.0.norm1.bias", block + "ln_1.bias"},
          {"blocks.0.attn.qkv.weight", block + "self_attention.in_proj_weight"},
          {"blocks.0.attn.qkv.bias", block + "self_attention.in_proj_bias"},
          {"blocks.0.attn.proj.weight", block + "self_attention.out_proj.weight"},
          {"blocks.0.attn.proj.bias", block + "self_attention.out_proj.bias"},
          {"blocks.0.norm2.weight", block + "ln_2.weight"},
          {"blocks.0.norm2.bias", block + "ln_2.bias"},
          {"blocks.0.mlp.fc1.weight", block + mlp_first + ".weight"},
          {"blocks.0.mlp.fc1.bias", block + mlp_first + ".bias"},
          {"blocks.0.mlp.fc2.weight", block + mlp_second + ".weight"},
          {"blocks.0.mlp.fc2.bias", block + mlp_second + ".bias"},
          {"norm.weight", "encoder.ln.weight"},
          {"norm.bias", "encoder.ln.bias"},
          {"head.weight", "heads.head.weight"},
          {"head.bias", "heads.head.bias"}};
}

// The authors train ViT-B/16 from torchvision's weights: a file with torchvision's names loads into the same tensors.
TEST(VitWeights, TorchvisionNamedWeightsLoad) {
  const VitShape shape{16, 32, 1, 2, 4};
  at::manual_seed(9);
  const VisionTransformer pretrained(shape, 1000, 3, 48);
  const auto pretrained_state = named_state(pretrained);
  for (const auto& [first, second] : {std::pair<std::string, std::string>{"mlp.0", "mlp.3"}, {"mlp.linear_1", "mlp.linear_2"}}) {
    const auto names = torchvision_names(first, second);
    ASSERT_EQ(names.size(), pretrained_state.size());
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& [name, tensor] : pretrained_state) tensors.emplace_back(names.at(name), tensor);
    const std::string path = temp_path("torchvision_" + first + ".safetensors");
    io::save_safetensors(path, tensors);

    VisionTransformer model(shape, 10, 3, 64);  // another class count and image size, as when fine-tuning
    load_pretrained(model, path);
    const auto state = named_state(model);
    for (const auto& [name, tensor] : pretrained_state) {
      if (name.rfind("head.", 0) == 0) continue;
      const auto expected = name == "pos_embed" ? resample_position_embedding(tensor, 4) : tensor;
      EXPECT_TRUE(at::equal(state.at(name), expected)) << name << " from " << names.at(name);
    }

    // A tensor missing from such a file is named as the file would name it.
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                                 [](const auto& item) { return item.first.find("ln_2.weight") != std::string::npos; }),
                  tensors.end());
    io::save_safetensors(path, tensors);
    try {
      load_pretrained(model, path);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'encoder.layers.encoder_layer_0.ln_2.weight' (the model's "
                                           "'blocks.0.norm2.weight')"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace dmx::classifier
