#include "diffmix/sd/attention.hpp"

#include "diffmix/torch_compat.hpp"

namespace dmx::sd {

Attention Attention::load(StateDict& weights, const std::string& prefix, const AttentionShape& shape) {
  const int64_t inner_dim = shape.heads * shape.head_dim;
  const int64_t context_dim = shape.context_dim > 0 ? shape.context_dim : shape.query_dim;
  Attention attention;
  if (shape.norm_groups > 0) {
    attention.group_norm_ =
        GroupNorm::load(weights, prefix + ".group_norm", shape.norm_groups, shape.query_dim, shape.norm_eps);
  }
  attention.to_q_ = Linear::load(weights, prefix + ".to_q", shape.query_dim, inner_dim, shape.qkv_bias);
  attention.to_k_ = Linear::load(weights, prefix + ".to_k", context_dim, inner_dim, shape.qkv_bias);
  attention.to_v_ = Linear::load(weights, prefix + ".to_v", context_dim, inner_dim, shape.qkv_bias);
  attention.to_out_ = Linear::load(weights, prefix + ".to_out.0", inner_dim, shape.query_dim, true);
  attention.heads_ = shape.heads;
  return attention;
}

namespace {

// [B, L, heads * d] -> [B, heads, L, d]
at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

}  // namespace

at::Tensor Attention::forward(const at::Tensor& hidden_states, const at::Tensor& context) const {
  const auto& source = context.defined() ? context : hidden_states;
  const auto query = split_heads(to_q_->forward(hidden_states), heads_);
  const auto key = split_heads(to_k_->forward(source), heads_);
  const auto value = split_heads(to_v_->forward(source), heads_);
  const auto attended = compat::scaled_dot_product_attention(query, key, value);
  const auto merged = attended.transpose(1, 2).reshape({hidden_states.size(0), hidden_states.size(1), -1});
  return to_out_->forward(merged);
}

at::Tensor Attention::forward_spatial(const at::Tensor& x) const {
  const int64_t batch = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  const auto normed = group_norm_ ? group_norm_->forward(x) : x;
  const auto tokens = normed.reshape({batch, channels, height * width}).transpose(1, 2);
  const auto out = forward(tokens);
  return out.transpose(1, 2).reshape({batch, channels, height, width}) + x;
}

void Attention::for_each_projection(const std::function<void(const std::string&, Linear&)>& visit) {
  visit("to_q", *to_q_);
  visit("to_k", *to_k_);
  visit("to_v", *to_v_);
  visit("to_out.0", *to_out_);
}

FeedForward FeedForward::load(StateDict& weights, const std::string& prefix, int64_t dim, int64_t inner_dim) {
  FeedForward ff;
  ff.geglu_proj_ = Linear::load(weights, prefix + ".net.0.proj", dim, inner_dim * 2, true);
  ff.out_ = Linear::load(weights, prefix + ".net.2", inner_dim, dim, true);
  return ff;
}

at::Tensor FeedForward::forward(const at::Tensor& x) const {
  const auto halves = geglu_proj_->forward(x).chunk(2, -1);
  return out_->forward(halves[0] * at::gelu(halves[1]));
}

BasicTransformerBlock BasicTransformerBlock::load(StateDict& weights, const std::string& prefix, int64_t dim,
                                                  int64_t heads, int64_t head_dim, int64_t cross_attention_dim) {
  // diffusers' defaults for SD: LayerNorm eps 1e-5 with affine parameters, no q/k/v bias, feed-forward 4x wide.
  constexpr double kLayerNormEps = 1e-5;
  constexpr int64_t kFeedForwardMult = 4;
  BasicTransformerBlock block;
  block.norm1_ = LayerNorm::load(weights, prefix + ".norm1", dim, kLayerNormEps);
  block.attn1_ = Attention::load(weights, prefix + ".attn1", {dim, 0, heads, head_dim});
  block.norm2_ = LayerNorm::load(weights, prefix + ".norm2", dim, kLayerNormEps);
  block.attn2_ = Attention::load(weights, prefix + ".attn2", {dim, cross_attention_dim, heads, head_dim});
  block.norm3_ = LayerNorm::load(weights, prefix + ".norm3", dim, kLayerNormEps);
  block.ff_ = FeedForward::load(weights, prefix + ".ff", dim, dim * kFeedForwardMult);
  return block;
}

at::Tensor BasicTransformerBlock::forward(const at::Tensor& hidden_states,
                                          const at::Tensor& encoder_hidden_states) const {
  auto h = attn1_->forward(norm1_->forward(hidden_states)) + hidden_states;
  h = attn2_->forward(norm2_->forward(h), encoder_hidden_states) + h;
  return ff_->forward(norm3_->forward(h)) + h;
}

void BasicTransformerBlock::for_each_projection(const std::function<void(const std::string&, Linear&)>& visit) {
  attn1_->for_each_projection([&](const std::string& name, Linear& layer) { visit("attn1." + name, layer); });
  attn2_->for_each_projection([&](const std::string& name, Linear& layer) { visit("attn2." + name, layer); });
}

}  // namespace dmx::sd
