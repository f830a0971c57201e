#include "diffmix/classifier/vit.hpp"

#include <c10/util/StringUtil.h>

#include <torch/nn/init.h>

#include <algorithm>
#include <cmath>

#include "diffmix/error.hpp"
#include "diffmix/torch_compat.hpp"

namespace dmx::classifier {
namespace {

constexpr double kLayerNormEps = 1e-6;  // timm's ViT; LibTorch's default (1e-5) would shift pretrained activations
constexpr double kInitStd = 0.02;

torch::nn::LayerNorm layer_norm(int64_t width) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(kLayerNormEps));
}

// timm's trunc_normal_: N(0, std²) restricted to [lower, upper] (absolute bounds; timm's ±2 are ±100σ at std 0.02).
// Drawn by rejection: values outside the bounds are drawn again until none is left, which samples the truncated
// distribution exactly and, for bounds this wide, never needs a second pass.
void truncated_normal_(at::Tensor tensor, double std, double lower = -2.0, double upper = 2.0) {
  at::NoGradGuard no_grad;
  tensor.normal_(0.0, std);
  for (;;) {
    const at::Tensor outside = (tensor < lower).logical_or_(tensor > upper);
    const int64_t count = outside.sum().item<int64_t>();
    if (count == 0) return;
    tensor.masked_scatter_(outside, at::empty({count}, tensor.options()).normal_(0.0, std));
  }
}

}  // namespace

VitAttentionImpl::VitAttentionImpl(int64_t width, int64_t heads) : heads_(heads) {
  qkv_ = register_module("qkv", torch::nn::Linear(width, 3 * width));
  proj_ = register_module("proj", torch::nn::Linear(width, width));
}

at::Tensor VitAttentionImpl::forward(const at::Tensor& tokens) {
  const int64_t batch = tokens.size(0), length = tokens.size(1), width = tokens.size(2);
  // qkv's output features are laid out [q | k | v], each split into heads: 3 × N × heads × L × head_dim.
  const at::Tensor qkv =
      qkv_->forward(tokens).reshape({batch, length, 3, heads_, width / heads_}).permute({2, 0, 3, 1, 4});
  const at::Tensor attended = compat::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]);
  return proj_->forward(attended.transpose(1, 2).reshape({batch, length, width}));
}

VitMlpImpl::VitMlpImpl(int64_t width, int64_t hidden) {
  fc1_ = register_module("fc1", torch::nn::Linear(width, hidden));
  fc2_ = register_module("fc2", torch::nn::Linear(hidden, width));
}

at::Tensor VitMlpImpl::forward(const at::Tensor& tokens) {
  return fc2_->forward(at::gelu(fc1_->forward(tokens)));  // exact GELU, as nn.GELU()
}

VitBlockImpl::VitBlockImpl(const VitShape& shape) {
  norm1_ = register_module("norm1", layer_norm(shape.width));
  attn_ = register_module("attn", VitAttention(shape.width, shape.heads));
  norm2_ = register_module("norm2", layer_norm(shape.width));
  mlp_ = register_module("mlp", VitMlp(shape.width, shape.mlp_ratio * shape.width));
}

at::Tensor VitBlockImpl::forward(const at::Tensor& tokens) {
  const at::Tensor x = tokens + attn_->forward(norm1_->forward(tokens));
  return x + mlp_->forward(norm2_->forward(x));
}

PatchEmbedImpl::PatchEmbedImpl(int64_t in_channels, int64_t width, int64_t patch_size) {
  proj_ = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, width, patch_size).stride(patch_size)));
}

at::Tensor PatchEmbedImpl::forward(const at::Tensor& images) {
  return proj_->forward(images).flatten(2).transpose(1, 2);
}

VisionTransformer::VisionTransformer(const VitShape& shape, int64_t num_classes, int64_t in_channels,
                                     int64_t image_size)
    : shape_(shape), in_channels_(in_channels), image_size_(image_size) {
  if (shape.patch_size < 1 || shape.width < 1 || shape.depth < 1 || shape.heads < 1 || shape.mlp_ratio < 1 ||
      shape.width % shape.heads != 0)
    throw invalid_argument("ViT: width " + std::to_string(shape.width) + " must be a positive multiple of heads (" +
                           std::to_string(shape.heads) + "), and patch size, depth and mlp ratio positive");
  if (image_size < shape.patch_size || image_size % shape.patch_size != 0)
    throw invalid_argument("ViT with " + std::to_string(shape.patch_size) + "-pixel patches: image size " +
                           std::to_string(image_size) + " must be a positive multiple of " +
                           std::to_string(shape.patch_size) + " (set [data] image_size)");
  const int64_t tokens = 1 + grid_size() * grid_size();

  // Registered in timm's order, so that a listing of the parameters reads like timm's state dict.
  cls_token_ = register_parameter("cls_token", at::zeros({1, 1, shape.width}));
  pos_embed_ = register_parameter("pos_embed", at::zeros({1, tokens, shape.width}));
  patch_embed_ = register_module("patch_embed", PatchEmbed(in_channels, shape.width, shape.patch_size));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < shape.depth; ++i) {
    block_list_.emplace_back(shape);
    blocks_->push_back(block_list_.back());
  }
  norm_ = register_module("norm", layer_norm(shape.width));
  head_ = register_module("head", torch::nn::Linear(shape.width, num_classes));

  truncated_normal_(pos_embed_, kInitStd);
  {
    at::NoGradGuard no_grad;
    cls_token_.normal_(0.0, 1e-6);
  }
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      truncated_normal_(linear->weight, kInitStd);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

at::Tensor VisionTransformer::forward(const at::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != in_channels_ || images.size(2) != image_size_ ||
      images.size(3) != image_size_)
    throw shape_error("ViT: images of shape " + c10::str(images.sizes()) + ", this network was built for N×" +
                      std::to_string(in_channels_) + "×" + std::to_string(image_size_) + "×" +
                      std::to_string(image_size_));
  at::Tensor x = patch_embed_->forward(images);
  x = at::cat({cls_token_.expand({x.size(0), -1, -1}), x}, 1) + pos_embed_;
  for (auto& block : block_list_) x = block->forward(x);
  x = norm_->forward(x);
  return head_->forward(x.select(1, 0));
}

at::Tensor VisionTransformer::fit_pretrained_tensor(const std::string& name, const at::Tensor& stored) const {
  if (name != "pos_embed" || stored.dim() != 3 || stored.size(0) != 1 || stored.size(2) != shape_.width ||
      stored.size(1) < 2)
    return {};
  const int64_t stored_grid = std::llround(std::sqrt(static_cast<double>(stored.size(1) - 1)));
  if (stored_grid * stored_grid != stored.size(1) - 1) return {};
  return resample_position_embedding(stored, grid_size());
}

namespace {

bool has_prefix(const std::string& name, const std::string& prefix) { return name.compare(0, prefix.size(), prefix) == 0; }

// timm's name → torchvision's (torchvision/models/vision_transformer.py). torchvision's in_proj stacks q, k, v in
// the order timm's qkv does, so the tensors themselves are the same. Its MLP is "mlp.0" / "mlp.3" since torchvision
// 0.14 (an MLP Sequential) and "mlp.linear_1" / "mlp.linear_2" before.
std::string torchvision_vit_name(const std::string& name, bool numbered_mlp) {
  static const std::vector<std::pair<std::string, std::string>> kTopLevel = {
      {"cls_token", "class_token"}, {"pos_embed", "encoder.pos_embedding"}, {"patch_embed.proj.", "conv_proj."},
      {"norm.", "encoder.ln."},     {"head.", "heads.head."}};
  const std::vector<std::pair<std::string, std::string>> in_block = {
      {"norm1.", "ln_1."},
      {"attn.qkv.weight", "self_attention.in_proj_weight"},
      {"attn.qkv.bias", "self_attention.in_proj_bias"},
      {"attn.proj.", "self_attention.out_proj."},
      {"norm2.", "ln_2."},
      {"mlp.fc1.", numbered_mlp ? "mlp.0." : "mlp.linear_1."},
      {"mlp.fc2.", numbered_mlp ? "mlp.3." : "mlp.linear_2."}};
  const auto rename = [](const std::string& rest, const std::vector<std::pair<std::string, std::string>>& table) {
    for (const auto& [timm, torchvision] : table)
      if (has_prefix(rest, timm)) return torchvision + rest.substr(timm.size());
    return std::string();
  };
  if (has_prefix(name, "blocks.")) {
    const auto dot = name.find('.', 7);
    const auto renamed = rename(name.substr(dot + 1), in_block);
    if (dot != std::string::npos && !renamed.empty())
      return "encoder.layers.encoder_layer_" + name.substr(7, dot - 7) + "." + renamed;
  }
  const auto renamed = rename(name, kTopLevel);
  return renamed.empty() ? name : renamed;
}

}  // namespace

NameInFile VisionTransformer::pretrained_names(const std::vector<std::string>& file_names) const {
  const auto has = [&](const std::string& key) {
    return std::find(file_names.begin(), file_names.end(), key) != file_names.end();
  };
  if (!has("encoder.layers.encoder_layer_0.ln_1.weight")) return {};
  const bool numbered_mlp = !has("encoder.layers.encoder_layer_0.mlp.linear_1.weight");
  return [numbered_mlp](const std::string& name) { return torchvision_vit_name(name, numbered_mlp); };
}

at::Tensor resample_position_embedding(const at::Tensor& pos_embed, int64_t grid_size) {
  const auto fail = [&](const std::string& why) {
    return shape_error("position embedding of shape " + c10::str(pos_embed.sizes()) + ": " + why);
  };
  if (grid_size < 1) throw fail("the new grid size " + std::to_string(grid_size) + " must be >= 1");
  if (pos_embed.dim() != 3 || pos_embed.size(0) != 1 || pos_embed.size(1) < 2)
    throw fail("expected [1, 1 + g·g, D] (a class-token row, then a g×g grid)");
  const int64_t patches = pos_embed.size(1) - 1;
  const int64_t old_grid = std::llround(std::sqrt(static_cast<double>(patches)));
  if (old_grid * old_grid != patches)
    throw fail(std::to_string(patches) + " grid rows do not form a square grid");
  if (old_grid == grid_size) return pos_embed;

  const int64_t width = pos_embed.size(2);
  const at::Tensor class_row = pos_embed.slice(1, 0, 1);
  at::Tensor grid = pos_embed.slice(1, 1).reshape({1, old_grid, old_grid, width}).permute({0, 3, 1, 2});
  // The antialiased kernel is what F.interpolate(..., mode="bicubic", antialias=True) runs; it has no half-precision
  // CPU kernel, hence float32.
  grid = at::_upsample_bicubic2d_aa(grid.to(at::kFloat).contiguous(), {grid_size, grid_size},
                                    /*align_corners=*/false);
  grid = grid.permute({0, 2, 3, 1}).reshape({1, grid_size * grid_size, width}).to(pos_embed.scalar_type());
  return at::cat({class_row, grid}, 1);
}

}  // namespace dmx::classifier
