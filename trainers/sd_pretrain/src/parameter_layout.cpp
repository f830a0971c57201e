#include "diffmix/sd_pretrain/parameter_layout.hpp"

#include <algorithm>
#include <cmath>

namespace dmx::pretrain {
namespace {

using Init = ParameterSpec::Init;
using Layout = std::vector<ParameterSpec>;

double inverse_sqrt(int64_t n) { return 1.0 / std::sqrt(static_cast<double>(n)); }

// nn.Linear / nn.Conv2d defaults: weight and bias both U(±1/√fan_in).
void add_linear(Layout& l, const std::string& p, int64_t in, int64_t out, bool bias = true) {
  l.push_back({p + ".weight", {out, in}, Init::Uniform, inverse_sqrt(in)});
  if (bias) l.push_back({p + ".bias", {out}, Init::Uniform, inverse_sqrt(in)});
}
void add_conv(Layout& l, const std::string& p, int64_t in, int64_t out, int64_t kernel) {
  const int64_t fan_in = in * kernel * kernel;
  l.push_back({p + ".weight", {out, in, kernel, kernel}, Init::Uniform, inverse_sqrt(fan_in)});
  l.push_back({p + ".bias", {out}, Init::Uniform, inverse_sqrt(fan_in)});
}
void add_norm(Layout& l, const std::string& p, int64_t channels) {
  l.push_back({p + ".weight", {channels}, Init::Ones, 0.0});
  l.push_back({p + ".bias", {channels}, Init::Zeros, 0.0});
}
// CLIP's linear layers: N(0, std) weights, zero biases.
void add_clip_linear(Layout& l, const std::string& p, int64_t in, int64_t out, double std) {
  l.push_back({p + ".weight", {out, in}, Init::Normal, std});
  l.push_back({p + ".bias", {out}, Init::Zeros, 0.0});
}

// ResnetBlock2D; temb = 0 for the VAE's blocks, which take no time embedding.
void add_resnet(Layout& l, const std::string& p, int64_t in, int64_t out, int64_t temb) {
  add_norm(l, p + ".norm1", in);
  add_conv(l, p + ".conv1", in, out, 3);
  if (temb > 0) add_linear(l, p + ".time_emb_proj", temb, out);
  add_norm(l, p + ".norm2", out);
  add_conv(l, p + ".conv2", out, out, 3);
  if (in != out) add_conv(l, p + ".conv_shortcut", in, out, 1);
}

// Transformer2DModel with one BasicTransformerBlock and 1x1-conv projections (use_linear_projection = false).
void add_transformer(Layout& l, const std::string& p, int64_t c, int64_t cross) {
  add_norm(l, p + ".norm", c);
  add_conv(l, p + ".proj_in", c, c, 1);
  const std::string b = p + ".transformer_blocks.0";
  add_norm(l, b + ".norm1", c);
  for (const char* q : {".attn1.to_q", ".attn1.to_k", ".attn1.to_v"}) add_linear(l, b + q, c, c, false);
  add_linear(l, b + ".attn1.to_out.0", c, c);
  add_norm(l, b + ".norm2", c);
  add_linear(l, b + ".attn2.to_q", c, c, false);
  add_linear(l, b + ".attn2.to_k", cross, c, false);
  add_linear(l, b + ".attn2.to_v", cross, c, false);
  add_linear(l, b + ".attn2.to_out.0", c, c);
  add_norm(l, b + ".norm3", c);
  add_linear(l, b + ".ff.net.0.proj", c, 8 * c);  // GEGLU: value and gate of the 4c hidden layer
  add_linear(l, b + ".ff.net.2", 4 * c, c);
  add_conv(l, p + ".proj_out", c, c, 1);
}

void add_vae_mid_block(Layout& l, const std::string& p, int64_t c) {
  add_resnet(l, p + ".resnets.0", c, c, 0);
  add_norm(l, p + ".attentions.0.group_norm", c);
  for (const char* q : {".to_q", ".to_k", ".to_v", ".to_out.0"}) add_linear(l, p + ".attentions.0" + q, c, c);
  add_resnet(l, p + ".resnets.1", c, c, 0);
}

}  // namespace

Layout text_encoder_layout(const TextEncoderShape& s, int64_t vocab_size) {
  Layout l;
  const int64_t d = s.hidden_size;
  const double in_proj_std = inverse_sqrt(d) * inverse_sqrt(2 * s.layers);
  const double out_proj_std = inverse_sqrt(d);
  const double fc_std = inverse_sqrt(2 * d);
  l.push_back({"text_model.embeddings.token_embedding.weight", {vocab_size, d}, Init::Normal, 0.02});
  l.push_back({"text_model.embeddings.position_embedding.weight", {s.max_length, d}, Init::Normal, 0.02});
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string p = "text_model.encoder.layers." + std::to_string(i);
    for (const char* q : {".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj"})
      add_clip_linear(l, p + q, d, d, in_proj_std);
    add_clip_linear(l, p + ".self_attn.out_proj", d, d, out_proj_std);
    add_norm(l, p + ".layer_norm1", d);
    add_clip_linear(l, p + ".mlp.fc1", d, s.intermediate_size, fc_std);
    add_clip_linear(l, p + ".mlp.fc2", s.intermediate_size, d, in_proj_std);
    add_norm(l, p + ".layer_norm2", d);
  }
  add_norm(l, "text_model.final_layer_norm", d);
  return l;
}

Layout vae_layout(const VaeShape& s) {
  Layout l;
  const auto& ch = s.block_out_channels;
  const auto blocks = static_cast<int64_t>(ch.size());
  const int64_t latent = s.latent_channels;
  add_conv(l, "encoder.conv_in", 3, ch[0], 3);
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string p = "encoder.down_blocks." + std::to_string(i);
    for (int64_t j = 0; j < s.layers_per_block; ++j)
      add_resnet(l, p + ".resnets." + std::to_string(j), j == 0 ? (i == 0 ? ch[0] : ch[i - 1]) : ch[i], ch[i], 0);
    if (i + 1 < blocks) add_conv(l, p + ".downsamplers.0.conv", ch[i], ch[i], 3);
  }
  add_vae_mid_block(l, "encoder.mid_block", ch.back());
  add_norm(l, "encoder.conv_norm_out", ch.back());
  add_conv(l, "encoder.conv_out", ch.back(), 2 * latent, 3);
  add_conv(l, "quant_conv", 2 * latent, 2 * latent, 1);
  add_conv(l, "post_quant_conv", latent, latent, 1);
  add_conv(l, "decoder.conv_in", latent, ch.back(), 3);
  add_vae_mid_block(l, "decoder.mid_block", ch.back());
  const std::vector<int64_t> reversed(ch.rbegin(), ch.rend());
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string p = "decoder.up_blocks." + std::to_string(i);
    const int64_t prev = i == 0 ? reversed[0] : reversed[i - 1];
    for (int64_t j = 0; j < s.layers_per_block + 1; ++j)
      add_resnet(l, p + ".resnets." + std::to_string(j), j == 0 ? prev : reversed[i], reversed[i], 0);
    if (i + 1 < blocks) add_conv(l, p + ".upsamplers.0.conv", reversed[i], reversed[i], 3);
  }
  add_norm(l, "decoder.conv_norm_out", ch[0]);
  add_conv(l, "decoder.conv_out", ch[0], 3, 3);
  return l;
}

Layout unet_layout(const UNetShape& s, int64_t cross_attention_dim, int64_t latent_channels) {
  Layout l;
  const auto& ch = s.block_out_channels;
  const auto blocks = static_cast<int64_t>(ch.size());
  const int64_t temb = 4 * ch[0];
  add_conv(l, "conv_in", latent_channels, ch[0], 3);
  add_linear(l, "time_embedding.linear_1", ch[0], temb);
  add_linear(l, "time_embedding.linear_2", temb, temb);
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string p = "down_blocks." + std::to_string(i);
    const bool attention = i + 1 < blocks;
    for (int64_t j = 0; j < s.layers_per_block; ++j) {
      add_resnet(l, p + ".resnets." + std::to_string(j), j == 0 ? (i == 0 ? ch[0] : ch[i - 1]) : ch[i], ch[i], temb);
      if (attention) add_transformer(l, p + ".attentions." + std::to_string(j), ch[i], cross_attention_dim);
    }
    if (i + 1 < blocks) add_conv(l, p + ".downsamplers.0.conv", ch[i], ch[i], 3);
  }
  const int64_t last = ch.back();
  add_resnet(l, "mid_block.resnets.0", last, last, temb);
  add_transformer(l, "mid_block.attentions.0", last, cross_attention_dim);
  add_resnet(l, "mid_block.resnets.1", last, last, temb);
  const std::vector<int64_t> reversed(ch.rbegin(), ch.rend());
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string p = "up_blocks." + std::to_string(i);
    const int64_t out = reversed[i];
    const int64_t prev = i == 0 ? last : reversed[i - 1];
    const int64_t input = reversed[std::min(i + 1, blocks - 1)];
    const int64_t layers = s.layers_per_block + 1;
    for (int64_t j = 0; j < layers; ++j) {
      const int64_t skip = j == layers - 1 ? input : out;
      add_resnet(l, p + ".resnets." + std::to_string(j), (j == 0 ? prev : out) + skip, out, temb);
      if (i > 0) add_transformer(l, p + ".attentions." + std::to_string(j), out, cross_attention_dim);
    }
    if (i + 1 < blocks) add_conv(l, p + ".upsamplers.0.conv", out, out, 3);
  }
  add_norm(l, "conv_norm_out", ch[0]);
  add_conv(l, "conv_out", ch[0], latent_channels, 3);
  return l;
}

NamedTensors initialize(const Layout& layout, at::Generator generator) {
  NamedTensors tensors;
  for (const auto& spec : layout) {
    auto tensor = at::empty(spec.shape, at::kFloat);
    switch (spec.init) {
      case Init::Uniform: tensor.uniform_(-spec.scale, spec.scale, generator); break;
      case Init::Normal: tensor.normal_(0.0, spec.scale, generator); break;
      case Init::Ones: tensor.fill_(1.0); break;
      case Init::Zeros: tensor.zero_(); break;
    }
    tensors.emplace_back(spec.name, tensor);
  }
  return tensors;
}

int64_t parameter_count(const NamedTensors& tensors) {
  int64_t count = 0;
  for (const auto& [name, tensor] : tensors) count += tensor.numel();
  return count;
}

}  // namespace dmx::pretrain
