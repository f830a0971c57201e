// Vision Transformer (Dosovitskiy et al., ICLR 2021) as timm's VisionTransformer builds it, with timm's parameter names
// so that a timm state dict saved as safetensors loads unchanged:
//   cls_token [1, 1, D], pos_embed [1, 1 + N, D], patch_embed.proj (Conv2d P×P, stride P),
//   blocks.{i}.norm1, .attn.qkv (one Linear D → 3D), .attn.proj, .norm2, .mlp.fc1 (D → 4D), .mlp.fc2, norm, head.
// Blocks are pre-norm (x + attn(norm1(x)), then x + mlp(norm2(x))), LayerNorm eps 1e-6, exact (erf) GELU; the head
// reads the class token after the final norm.
//
// The image size is fixed when the network is built: it sets N, the number of patches. Weights made at another size
// (timm's ImageNet-21k ViT-B/16 is trained at 224 px, the paper fine-tunes at 384 px) load through load_pretrained(),
// which resamples the position embedding on the patch grid (resample_position_embedding below).
#pragma once

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

#include "diffmix/classifier/classifier.hpp"

namespace dmx::classifier {

struct VitShape {
  int64_t patch_size = 16;
  int64_t width = 768;      // D, the token width
  int64_t depth = 12;       // transformer blocks
  int64_t heads = 12;       // attention heads; D must be a multiple
  int64_t mlp_ratio = 4;    // hidden width of the MLP is mlp_ratio·D
};

// Multi-head self-attention with one fused q/k/v projection, as timm's Attention: softmax(q·kᵀ/√d)·v per head, heads
// concatenated, then `proj`.
class VitAttentionImpl : public torch::nn::Module {
 public:
  VitAttentionImpl(int64_t width, int64_t heads);
  at::Tensor forward(const at::Tensor& tokens);  // N×L×D -> N×L×D

 private:
  int64_t heads_;
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr};
};
TORCH_MODULE(VitAttention);

// fc1 → GELU → fc2.
class VitMlpImpl : public torch::nn::Module {
 public:
  VitMlpImpl(int64_t width, int64_t hidden);
  at::Tensor forward(const at::Tensor& tokens);

 private:
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(VitMlp);

// x + attn(norm1(x)), then x + mlp(norm2(x)).
class VitBlockImpl : public torch::nn::Module {
 public:
  explicit VitBlockImpl(const VitShape& shape);
  at::Tensor forward(const at::Tensor& tokens);

 private:
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  VitAttention attn_{nullptr};
  VitMlp mlp_{nullptr};
};
TORCH_MODULE(VitBlock);

// Cuts the image into P×P patches and projects each to D (one strided convolution): N×C×H×W -> N×(H/P·W/P)×D, patches
// in row-major order.
class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t in_channels, int64_t width, int64_t patch_size);
  at::Tensor forward(const at::Tensor& images);

 private:
  torch::nn::Conv2d proj_{nullptr};
};
TORCH_MODULE(PatchEmbed);

class VisionTransformer : public Classifier {
 public:
  // image_size: side of the square input in pixels, a multiple of the patch size (invalid_argument otherwise).
  // Initialisation follows timm's default: truncated normal (std 0.02) for pos_embed and every Linear weight,
  // normal with std 1e-6 for cls_token, zero biases, LayerNorm weight one and bias zero; the patch convolution keeps
  // LibTorch's default (PyTorch's Conv2d reset, as timm leaves it).
  VisionTransformer(const VitShape& shape, int64_t num_classes, int64_t in_channels, int64_t image_size);

  // Images must be N×C×image_size×image_size (a shape error otherwise).
  at::Tensor forward(const at::Tensor& images) override;
  std::string head_prefix() const override { return "head."; }
  // "pos_embed" of another square patch grid (same width D) is resampled to this network's grid; nothing else fits.
  at::Tensor fit_pretrained_tensor(const std::string& name, const at::Tensor& stored) const override;
  // Files saved from torchvision's vit_b_16 (e.g. the IMAGENET1K_SWAG_E2E_V1 weights) name the same tensors
  // differently; they are recognised by "encoder.layers.encoder_layer_0.ln_1.weight" and read under torchvision's
  // names. timm-named files need no mapping.
  NameInFile pretrained_names(const std::vector<std::string>& file_names) const override;

  int64_t image_size() const { return image_size_; }
  int64_t grid_size() const { return image_size_ / shape_.patch_size; }  // patches per side
  const VitShape& shape() const { return shape_; }

  // timm's vit_base_patch16 (ViT-B/16, 86.6 M parameters with 1000 classes) and vit_tiny_patch16 (ViT-Ti/16, 5.7 M).
  static VitShape vit_b16() { return {16, 768, 12, 12, 4}; }
  static VitShape vit_tiny16() { return {16, 192, 12, 3, 4}; }

 private:
  VitShape shape_;
  int64_t in_channels_;
  int64_t image_size_;
  at::Tensor cls_token_, pos_embed_;
  PatchEmbed patch_embed_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  std::vector<VitBlock> block_list_;  // the same blocks, typed, for forward()
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};

// timm's resample_abs_pos_embed with one prefix (class) token: `pos_embed` [1, 1 + g·g, D] made for a g×g patch grid
// becomes [1, 1 + grid_size², D]. The class-token row is kept; the grid rows are resized bicubically with antialiasing
// (timm's default, PIL's kernel), computed in float32 and returned in the input's dtype. The same grid size returns
// the input unchanged. A tensor of another rank or batch, or whose grid rows are not a square, is a shape error.
at::Tensor resample_position_embedding(const at::Tensor& pos_embed, int64_t grid_size);

}  // namespace dmx::classifier
