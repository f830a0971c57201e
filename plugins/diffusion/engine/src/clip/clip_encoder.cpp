#include "diffmix/sd/clip_encoder.hpp"

#include "diffmix/error.hpp"

#include <cmath>
#include <limits>

namespace dmx::sd {

CLIPEncoderShape CLIPEncoderShape::read(const ConfigFile& config, const CLIPEncoderShape& defaults) {
  CLIPEncoderShape shape;
  shape.hidden_size = config.integer("hidden_size", defaults.hidden_size);
  shape.intermediate_size = config.integer("intermediate_size", defaults.intermediate_size);
  shape.num_attention_heads = config.integer("num_attention_heads", defaults.num_attention_heads);
  shape.num_hidden_layers = config.integer("num_hidden_layers", defaults.num_hidden_layers);
  shape.layer_norm_eps = config.number("layer_norm_eps", defaults.layer_norm_eps);
  const auto act = config.string("hidden_act", "quick_gelu");
  if (act == "quick_gelu") {
    shape.activation = CLIPActivation::QuickGelu;
  } else if (act == "gelu") {
    shape.activation = CLIPActivation::Gelu;
  } else {
    throw dmx::unsupported(config.source() + ": hidden_act '" + act + "' is not supported (quick_gelu or gelu)");
  }
  if (shape.hidden_size <= 0 || shape.num_attention_heads <= 0 || shape.hidden_size % shape.num_attention_heads != 0) {
    throw dmx::config_error(config.source() + ": hidden_size " + std::to_string(shape.hidden_size) +
                            " must be a positive multiple of num_attention_heads " +
                            std::to_string(shape.num_attention_heads));
  }
  if (shape.intermediate_size <= 0 || shape.num_hidden_layers < 0) {
    throw dmx::config_error(config.source() + ": intermediate_size must be positive and num_hidden_layers >= 0");
  }
  return shape;
}

CLIPEncoderLayer CLIPEncoderLayer::load(StateDict& weights, const std::string& prefix, const CLIPEncoderShape& shape) {
  const auto d = shape.hidden_size;
  CLIPEncoderLayer layer;
  layer.layer_norm1_ = LayerNorm::load(weights, prefix + ".layer_norm1", d, shape.layer_norm_eps);
  layer.q_proj_ = Linear::load(weights, prefix + ".self_attn.q_proj", d, d, true);
  layer.k_proj_ = Linear::load(weights, prefix + ".self_attn.k_proj", d, d, true);
  layer.v_proj_ = Linear::load(weights, prefix + ".self_attn.v_proj", d, d, true);
  layer.out_proj_ = Linear::load(weights, prefix + ".self_attn.out_proj", d, d, true);
  layer.layer_norm2_ = LayerNorm::load(weights, prefix + ".layer_norm2", d, shape.layer_norm_eps);
  layer.fc1_ = Linear::load(weights, prefix + ".mlp.fc1", d, shape.intermediate_size, true);
  layer.fc2_ = Linear::load(weights, prefix + ".mlp.fc2", shape.intermediate_size, d, true);
  layer.heads_ = shape.num_attention_heads;
  layer.activation_ = shape.activation;
  return layer;
}

at::Tensor CLIPEncoderLayer::self_attention(const at::Tensor& x, const at::Tensor& allowed) const {
  const auto batch = x.size(0), length = x.size(1), width = x.size(2);
  const auto head_dim = width / heads_;
  const auto split_heads = [&](const at::Tensor& t) { return t.view({batch, length, heads_, head_dim}).transpose(1, 2); };
  const auto q = split_heads(q_proj_->forward(x) * (1.0 / std::sqrt(static_cast<double>(head_dim))));
  const auto k = split_heads(k_proj_->forward(x));
  const auto v = split_heads(v_proj_->forward(x));
  auto scores = at::matmul(q, k.transpose(-1, -2)).to(at::kFloat);
  // The most negative float rather than -inf, so that a fully masked row gives a uniform average, not NaN.
  if (allowed.defined()) scores = scores.masked_fill(allowed.logical_not(), std::numeric_limits<float>::lowest());
  const auto weights = at::softmax(scores, -1).to(x.scalar_type());
  const auto context = at::matmul(weights, v).transpose(1, 2).reshape({batch, length, width});
  return out_proj_->forward(context);
}

at::Tensor CLIPEncoderLayer::forward(const at::Tensor& x, const at::Tensor& allowed) const {
  auto h = x + self_attention(layer_norm1_->forward(x), allowed);
  auto m = fc1_->forward(layer_norm2_->forward(h));
  m = activation_ == CLIPActivation::QuickGelu ? m * at::sigmoid(1.702 * m) : at::gelu(m);
  return h + fc2_->forward(m);
}

CLIPEncoder CLIPEncoder::load(StateDict& weights, const std::string& prefix, const CLIPEncoderShape& shape) {
  CLIPEncoder encoder;
  for (int64_t i = 0; i < shape.num_hidden_layers; ++i) {
    encoder.layers_.push_back(CLIPEncoderLayer::load(weights, prefix + ".layers." + std::to_string(i), shape));
  }
  return encoder;
}

at::Tensor CLIPEncoder::forward(const at::Tensor& x, const at::Tensor& allowed, int64_t layers,
                                std::vector<at::Tensor>* hidden_states) const {
  const auto count = layers < 0 ? num_layers() : std::min(layers, num_layers());
  auto h = x;
  if (hidden_states) hidden_states->push_back(h);
  for (int64_t i = 0; i < count; ++i) {
    h = layers_[i].forward(h, allowed);
    if (hidden_states) hidden_states->push_back(h);
  }
  return h;
}

}  // namespace dmx::sd
