#include "diffmix/sd/transformer_2d.hpp"

namespace dmx::sd {

Transformer2DModel Transformer2DModel::load(StateDict& weights, const std::string& prefix,
                                            const Transformer2DShape& shape) {
  // diffusers builds this GroupNorm with eps 1e-6 whatever the UNet's norm_eps.
  constexpr double kNormEps = 1e-6;
  const int64_t inner_dim = shape.heads * shape.head_dim;
  Transformer2DModel model;
  model.norm_ = GroupNorm::load(weights, prefix + ".norm", shape.norm_groups, shape.channels, kNormEps);
  if (shape.use_linear_projection) {
    model.proj_in_linear_ = Linear::load(weights, prefix + ".proj_in", shape.channels, inner_dim, true);
  } else {
    model.proj_in_conv_ = Conv2d::load(weights, prefix + ".proj_in", shape.channels, inner_dim, 1, 1, 0);
  }
  for (int64_t i = 0; i < shape.layers; ++i) {
    model.blocks_.push_back(BasicTransformerBlock::load(weights, prefix + ".transformer_blocks." + std::to_string(i),
                                                        inner_dim, shape.heads, shape.head_dim,
                                                        shape.cross_attention_dim));
  }
  if (shape.use_linear_projection) {
    model.proj_out_linear_ = Linear::load(weights, prefix + ".proj_out", inner_dim, shape.channels, true);
  } else {
    model.proj_out_conv_ = Conv2d::load(weights, prefix + ".proj_out", inner_dim, shape.channels, 1, 1, 0);
  }
  return model;
}

at::Tensor Transformer2DModel::forward(const at::Tensor& x, const at::Tensor& encoder_hidden_states) const {
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3);
  auto h = norm_->forward(x);
  // Feature map -> tokens [B, H*W, inner]; the projection runs before (conv) or after (linear) the reshape.
  if (proj_in_conv_) h = proj_in_conv_->forward(h);
  const int64_t channels = h.size(1);
  h = h.permute({0, 2, 3, 1}).reshape({batch, height * width, channels});
  if (proj_in_linear_) h = proj_in_linear_->forward(h);

  for (const auto& block : blocks_) h = block.forward(h, encoder_hidden_states);

  if (proj_out_linear_) h = proj_out_linear_->forward(h);
  h = h.reshape({batch, height, width, h.size(-1)}).permute({0, 3, 1, 2}).contiguous();
  if (proj_out_conv_) h = proj_out_conv_->forward(h);
  return h + x;
}

void Transformer2DModel::for_each_projection(const std::function<void(const std::string&, Linear&)>& visit) {
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const std::string prefix = "transformer_blocks." + std::to_string(i) + ".";
    blocks_[i].for_each_projection([&](const std::string& name, Linear& layer) { visit(prefix + name, layer); });
  }
}

}  // namespace dmx::sd
