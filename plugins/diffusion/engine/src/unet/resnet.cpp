#include "diffmix/sd/resnet.hpp"

#include <utility>

namespace dmx::sd {

ResnetBlock2D ResnetBlock2D::load(StateDict& weights, const std::string& prefix, const ResnetBlockShape& shape) {
  ResnetBlock2D block;
  block.norm1_ = GroupNorm::load(weights, prefix + ".norm1", shape.groups, shape.in_channels, shape.eps);
  block.conv1_ = Conv2d::load(weights, prefix + ".conv1", shape.in_channels, shape.out_channels, 3, 1, 1);
  if (shape.temb_channels > 0) {
    block.time_emb_proj_ =
        Linear::load(weights, prefix + ".time_emb_proj", shape.temb_channels, shape.out_channels, true);
  }
  block.norm2_ = GroupNorm::load(weights, prefix + ".norm2", shape.groups, shape.out_channels, shape.eps);
  block.conv2_ = Conv2d::load(weights, prefix + ".conv2", shape.out_channels, shape.out_channels, 3, 1, 1);
  if (shape.in_channels != shape.out_channels) {
    block.conv_shortcut_ =
        Conv2d::load(weights, prefix + ".conv_shortcut", shape.in_channels, shape.out_channels, 1, 1, 0);
  }
  block.output_scale_factor_ = shape.output_scale_factor;
  return block;
}

at::Tensor ResnetBlock2D::forward(const at::Tensor& x, const at::Tensor& temb) const {
  auto h = conv1_->forward(at::silu(norm1_->forward(x)));
  if (time_emb_proj_) h = h + time_emb_proj_->forward(at::silu(temb)).unsqueeze(-1).unsqueeze(-1);
  h = conv2_->forward(at::silu(norm2_->forward(h)));
  const auto shortcut = conv_shortcut_ ? conv_shortcut_->forward(x) : x;
  auto out = shortcut + h;
  if (output_scale_factor_ != 1.0) out = out / output_scale_factor_;
  return out;
}

Downsample2D::Downsample2D(Conv2d conv, int64_t padding) : conv_(std::move(conv)), padding_(padding) {}

Downsample2D Downsample2D::load(StateDict& weights, const std::string& prefix, int64_t channels, int64_t padding) {
  return Downsample2D(Conv2d::load(weights, prefix + ".conv", channels, channels, 3, 2, padding), padding);
}

at::Tensor Downsample2D::forward(const at::Tensor& x) const {
  if (padding_ == 0) return conv_.forward(at::constant_pad_nd(x, {0, 1, 0, 1}, 0.0));
  return conv_.forward(x);
}

Upsample2D::Upsample2D(Conv2d conv) : conv_(std::move(conv)) {}

Upsample2D Upsample2D::load(StateDict& weights, const std::string& prefix, int64_t channels) {
  return Upsample2D(Conv2d::load(weights, prefix + ".conv", channels, channels, 3, 1, 1));
}

at::Tensor Upsample2D::forward(const at::Tensor& x, at::IntArrayRef output_size) const {
  // Nearest-neighbour upsampling has no bfloat16 kernel in older LibTorch versions: go through float32 there.
  const bool via_float = x.scalar_type() == at::kBFloat16;
  const auto input = via_float ? x.to(at::kFloat) : x;
  const std::vector<int64_t> size = output_size.empty()
                                        ? std::vector<int64_t>{input.size(2) * 2, input.size(3) * 2}
                                        : std::vector<int64_t>(output_size.begin(), output_size.end());
  auto upsampled = at::upsample_nearest2d(input, size);
  if (via_float) upsampled = upsampled.to(x.scalar_type());
  return conv_.forward(upsampled);
}

}  // namespace dmx::sd
