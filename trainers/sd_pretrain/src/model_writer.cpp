#include "diffmix/sd_pretrain/model_writer.hpp"

#include "diffmix/io/image.hpp"
#include "diffmix/io/safetensors.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace dmx::pretrain {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kDiffusersVersion = "0.27.2";
constexpr const char* kTransformersVersion = "4.34.0";

std::vector<std::string> repeated(size_t count, const std::string& value) { return std::vector<std::string>(count, value); }

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  io::write_file_atomic(path.string(), text.data(), text.size());
}

void write_weights(const std::string& path, const NamedTensors& weights) {
  NamedTensors out;
  for (const auto& [name, tensor] : weights) out.emplace_back(name, tensor.detach().to(at::kCPU, at::kFloat).contiguous());
  fs::create_directories(fs::path(path).parent_path());
  io::save_safetensors(path, out, {{"format", "pt"}});  // what safetensors' torch helpers record
}

}  // namespace

std::string unet_config_json(const Architecture& a) {
  const auto blocks = a.unet.block_out_channels.size();
  auto down = repeated(blocks, "CrossAttnDownBlock2D");
  auto up = repeated(blocks, "CrossAttnUpBlock2D");
  down.back() = "DownBlock2D";
  up.front() = "UpBlock2D";
  const Json null;
  Json config = {{"_class_name", "UNet2DConditionModel"},
                 {"_diffusers_version", kDiffusersVersion},
                 {"act_fn", "silu"},
                 {"addition_embed_type", null},
                 {"addition_embed_type_num_heads", 64},
                 {"addition_time_embed_dim", null},
                 {"attention_head_dim", a.unet.attention_heads},
                 {"attention_type", "default"},
                 {"block_out_channels", a.unet.block_out_channels},
                 {"center_input_sample", false},
                 {"class_embed_type", null},
                 {"class_embeddings_concat", false},
                 {"conv_in_kernel", 3},
                 {"conv_out_kernel", 3},
                 {"cross_attention_dim", a.text_encoder.hidden_size},
                 {"cross_attention_norm", null},
                 {"down_block_types", down},
                 {"downsample_padding", 1},
                 {"dropout", 0.0},
                 {"dual_cross_attention", false},
                 {"encoder_hid_dim", null},
                 {"encoder_hid_dim_type", null},
                 {"flip_sin_to_cos", true},
                 {"freq_shift", 0},
                 {"in_channels", a.vae.latent_channels},
                 {"layers_per_block", a.unet.layers_per_block},
                 {"mid_block_only_cross_attention", null},
                 {"mid_block_scale_factor", 1},
                 {"mid_block_type", "UNetMidBlock2DCrossAttn"},
                 {"norm_eps", 1e-05},
                 {"norm_num_groups", a.unet.norm_num_groups},
                 {"num_attention_heads", null},
                 {"num_class_embeds", null},
                 {"only_cross_attention", false},
                 {"out_channels", a.vae.latent_channels},
                 {"projection_class_embeddings_input_dim", null},
                 {"resnet_out_scale_factor", 1.0},
                 {"resnet_skip_time_act", false},
                 {"resnet_time_scale_shift", "default"},
                 {"reverse_transformer_layers_per_block", null},
                 {"sample_size", a.latent_size()},
                 {"time_cond_proj_dim", null},
                 {"time_embedding_act_fn", null},
                 {"time_embedding_dim", null},
                 {"time_embedding_type", "positional"},
                 {"timestep_post_act", null},
                 {"transformer_layers_per_block", 1},
                 {"up_block_types", up},
                 {"upcast_attention", false},
                 {"use_linear_projection", false}};
  return config.dump(2);
}

std::string vae_config_json(const Architecture& a, double scaling_factor) {
  const auto blocks = a.vae.block_out_channels.size();
  const Json null;
  Json config = {{"_class_name", "AutoencoderKL"},
                 {"_diffusers_version", kDiffusersVersion},
                 {"act_fn", "silu"},
                 {"block_out_channels", a.vae.block_out_channels},
                 {"down_block_types", repeated(blocks, "DownEncoderBlock2D")},
                 {"force_upcast", true},
                 {"in_channels", 3},
                 {"latent_channels", a.vae.latent_channels},
                 {"latents_mean", null},
                 {"latents_std", null},
                 {"layers_per_block", a.vae.layers_per_block},
                 {"norm_num_groups", a.vae.norm_num_groups},
                 {"out_channels", 3},
                 {"sample_size", a.resolution},
                 {"scaling_factor", scaling_factor},
                 {"up_block_types", repeated(blocks, "UpDecoderBlock2D")}};
  return config.dump(2);
}

std::string text_encoder_config_json(const Architecture& a, const ClipVocabulary& vocabulary) {
  const auto& t = a.text_encoder;
  Json config = {{"architectures", {"CLIPTextModel"}},
                 {"attention_dropout", 0.0},
                 {"bos_token_id", vocabulary.bos_token_id()},
                 {"eos_token_id", vocabulary.eos_token_id()},
                 {"hidden_act", "quick_gelu"},
                 {"hidden_size", t.hidden_size},
                 {"initializer_factor", 1.0},
                 {"initializer_range", 0.02},
                 {"intermediate_size", t.intermediate_size},
                 {"layer_norm_eps", 1e-05},
                 {"max_position_embeddings", t.max_length},
                 {"model_type", "clip_text_model"},
                 {"num_attention_heads", t.heads},
                 {"num_hidden_layers", t.layers},
                 {"pad_token_id", vocabulary.eos_token_id()},
                 {"projection_dim", t.hidden_size},
                 {"torch_dtype", "float32"},
                 {"transformers_version", kTransformersVersion},
                 {"vocab_size", vocabulary.size()}};
  return config.dump(2);
}

// Written as text: Python's json writes lambda_min_clipped as the bare token -Infinity, which nlohmann cannot.
std::string scheduler_config_json() {
  return R"({
  "_class_name": "DPMSolverMultistepScheduler",
  "_diffusers_version": "0.27.2",
  "algorithm_type": "dpmsolver++",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "dynamic_thresholding_ratio": 0.995,
  "euler_at_final": false,
  "final_sigmas_type": "zero",
  "lambda_min_clipped": -Infinity,
  "lower_order_final": true,
  "num_train_timesteps": 1000,
  "prediction_type": "epsilon",
  "rescale_betas_zero_snr": false,
  "sample_max_value": 1.0,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "solver_order": 2,
  "solver_type": "midpoint",
  "steps_offset": 1,
  "thresholding": false,
  "timestep_spacing": "linspace",
  "trained_betas": null,
  "use_karras_sigmas": false,
  "use_lu_lambdas": false,
  "variance_type": null
})";
}

std::string model_index_json() {
  const Json absent = {nullptr, nullptr};
  Json index = {{"_class_name", "StableDiffusionPipeline"},
                {"_diffusers_version", kDiffusersVersion},
                {"feature_extractor", absent},
                {"image_encoder", absent},
                {"requires_safety_checker", false},
                {"safety_checker", absent},
                {"scheduler", {"diffusers", "DPMSolverMultistepScheduler"}},
                {"text_encoder", {"transformers", "CLIPTextModel"}},
                {"tokenizer", {"transformers", "CLIPTokenizer"}},
                {"unet", {"diffusers", "UNet2DConditionModel"}},
                {"vae", {"diffusers", "AutoencoderKL"}}};
  return index.dump(2);
}

std::string unet_weights_path(const std::string& folder) {
  return (fs::path(folder) / "unet" / "diffusion_pytorch_model.safetensors").string();
}
std::string vae_weights_path(const std::string& folder) {
  return (fs::path(folder) / "vae" / "diffusion_pytorch_model.safetensors").string();
}
std::string text_encoder_weights_path(const std::string& folder) {
  return (fs::path(folder) / "text_encoder" / "model.safetensors").string();
}

void write_model_folder(const std::string& folder, const Architecture& architecture, const ClipVocabulary& vocabulary,
                        const ModelWeights& weights, double scaling_factor) {
  const fs::path root(folder);
  fs::create_directories(root);
  vocabulary.write((root / "tokenizer").string(), architecture.text_encoder.max_length);
  write_text(root / "text_encoder" / "config.json", text_encoder_config_json(architecture, vocabulary));
  write_weights(text_encoder_weights_path(folder), weights.text_encoder);
  write_text(root / "vae" / "config.json", vae_config_json(architecture, scaling_factor));
  write_weights(vae_weights_path(folder), weights.vae);
  write_text(root / "unet" / "config.json", unet_config_json(architecture));
  write_weights(unet_weights_path(folder), weights.unet);
  write_text(root / "scheduler" / "scheduler_config.json", scheduler_config_json());
  // Last: a folder with model_index.json is complete.
  write_text(root / "model_index.json", model_index_json());
}

}  // namespace dmx::pretrain
