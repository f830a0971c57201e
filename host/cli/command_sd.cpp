// `diffmix sd txt2img|img2img`: run the Stable Diffusion engine on a diffusers folder and write PNGs.
//
//   diffmix sd img2img --model sd-1.5 --image bird.jpg --prompt "a photo of a sparrow" --strength 0.7 --out out/
//
// --noise FILE.safetensors supplies the random draws instead of the seed (tensors `initial_latents` for txt2img,
// `posterior_noise` and/or `noise` for img2img), so that a run recorded elsewhere is reproduced exactly;
// --save-latents writes the final latents to <out>/latents.safetensors.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/io/safetensors.hpp"
#include "diffmix/progress.hpp"
#include "diffmix/sd/image_processor.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"

namespace dmx::cli {
namespace {

struct SdOptions {
  std::string model;
  std::vector<std::string> prompts;
  std::vector<std::string> images;
  double strength = 0.7;
  int64_t steps = 25;
  double guidance = 7.5;
  uint64_t seed = 0;
  int64_t batch = 1;
  int64_t height = 0;
  int64_t width = 0;
  std::string noise_file;
  bool save_latents = false;
  std::string device = "cpu";
  std::string dtype = "fp32";
  std::string out;
};

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32") return at::kFloat;
  if (name == "fp16" || name == "float16") return at::kHalf;
  if (name == "bf16" || name == "bfloat16") return at::kBFloat16;
  throw invalid_argument("--dtype must be fp32, fp16 or bf16, got '" + name + "'");
}

at::Device parse_device(const std::string& name) {
  try {
    return at::Device(name);
  } catch (const std::exception&) {
    throw invalid_argument("--device must be cpu, cuda or cuda:N, got '" + name + "'");
  }
}

// A tensor of the --noise file, if the file has it.
std::optional<at::Tensor> noise_tensor(const std::optional<io::SafetensorsFile>& file, const std::string& name) {
  if (!file || !file->contains(name)) return std::nullopt;
  return file->tensor(name).to(at::kFloat);
}

// The input images as one float batch [N, 3, H, W] in [0, 1]. Every image must have the first one's size; a size
// that is not a multiple of the VAE's factor is scaled down to one, as diffusers' image processor does.
at::Tensor read_input_images(const std::vector<std::string>& paths, int64_t factor) {
  std::vector<at::Tensor> images;
  for (const auto& path : paths) {
    auto image = sd::images_from_uint8(io::read_image(path));
    if (!images.empty() && !image.sizes().equals(images.front().sizes()))
      throw invalid_argument(path + ": size " + std::to_string(image.size(2)) + "x" + std::to_string(image.size(3)) +
                             " differs from " + paths.front() + "; images of one run must have the same size");
    images.push_back(image);
  }
  auto batch = at::cat(images);
  const int64_t height = batch.size(2) / factor * factor;
  const int64_t width = batch.size(3) / factor * factor;
  if (height == 0 || width == 0)
    throw invalid_argument(paths.front() + ": smaller than the VAE's downsampling factor " + std::to_string(factor));
  if (height != batch.size(2) || width != batch.size(3)) {
    spdlog::warn("resizing input images from {}x{} to {}x{} (a multiple of {})", batch.size(2), batch.size(3), height,
                 width, factor);
    batch = sd::resize_images(batch, height, width);
  }
  return batch;
}

void set_generation_options(const SdOptions& options, const sd::StepCallback& on_step, sd::GenerationOptions& request) {
  request.num_inference_steps = options.steps;
  request.guidance_scale = options.guidance;
  request.images_per_prompt = options.batch;
  request.seed = options.seed;
  request.on_step = on_step;
}

void write_outputs(const SdOptions& options, const std::string& mode, const sd::GenerationResult& result) {
  std::filesystem::create_directories(options.out);
  const auto pixels = sd::images_to_uint8(result.images);
  for (int64_t i = 0; i < pixels.size(0); ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "%s_%04lld.png", mode.c_str(), static_cast<long long>(i));
    const auto path = (std::filesystem::path(options.out) / name).string();
    io::write_image(path, pixels[i]);
    std::printf("%s\n", path.c_str());
  }
  if (options.save_latents) {
    const auto path = (std::filesystem::path(options.out) / "latents.safetensors").string();
    io::save_safetensors(path, {{"latents", result.latents.cpu().contiguous()}});
    std::printf("%s\n", path.c_str());
  }
}

void run_sd(const SdOptions& options, const std::string& mode) {
  const auto dtype = parse_dtype(options.dtype);
  const auto device = parse_device(options.device);
  std::optional<io::SafetensorsFile> noise_file;
  if (!options.noise_file.empty()) noise_file.emplace(io::SafetensorsFile::open(options.noise_file));

  const auto load_start = std::chrono::steady_clock::now();
  const auto pipeline = sd::StableDiffusion::load(options.model, dtype, device);
  spdlog::info("loaded {} in {:.1f} s", options.model,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count());

  std::unique_ptr<Progress> progress;
  auto report_step = [&progress, &mode](const sd::DenoisingStep& step) {
    if (!progress) progress = std::make_unique<Progress>("sd " + mode, static_cast<uint64_t>(step.count), "step");
    progress->advance(1, "t=" + std::to_string(step.timestep));
  };

  const auto start = std::chrono::steady_clock::now();
  sd::GenerationResult result;
  if (mode == "txt2img") {
    sd::Txt2ImgRequest request;
    request.prompts = options.prompts;
    request.height = options.height;
    request.width = options.width;
    request.initial_latents = noise_tensor(noise_file, "initial_latents");
    set_generation_options(options, report_step, request);
    result = pipeline.txt2img(request);
  } else {
    sd::Img2ImgRequest request;
    request.prompts = options.prompts;
    request.images = read_input_images(options.images, pipeline.vae_scale_factor());
    request.strength = options.strength;
    request.posterior_noise = noise_tensor(noise_file, "posterior_noise");
    request.noise = noise_tensor(noise_file, "noise");
    set_generation_options(options, report_step, request);
    result = pipeline.img2img(request);
  }
  if (progress) progress->finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto images = result.images.size(0);
  spdlog::info("{} images in {:.1f} s ({:.1f} images/hour)", images, seconds,
               seconds > 0 ? 3600.0 * static_cast<double>(images) / seconds : 0.0);
  write_outputs(options, mode, result);
}

void add_mode(CLI::App& sd, const std::string& mode, const std::string& description) {
  auto options = std::make_shared<SdOptions>();
  auto* cmd = sd.add_subcommand(mode, description);
  cmd->add_option("--model", options->model, "diffusers Stable Diffusion folder (model_index.json, unet/, vae/, ...)")
      ->required();
  cmd->add_option("--prompt", options->prompts, "Prompt (repeatable: one per image, or one for all)")->required();
  if (mode == "img2img") {
    cmd->add_option("--image", options->images, "Reference image, PNG or JPEG (repeatable)")->required();
    cmd->add_option("--strength", options->strength, "SDEdit strength in (0, 1]: runs int(steps x strength) steps")
        ->capture_default_str();
  } else {
    cmd->add_option("--height", options->height, "Image height in pixels (default: the UNet's sample size)");
    cmd->add_option("--width", options->width, "Image width in pixels (default: the UNet's sample size)");
  }
  cmd->add_option("--steps", options->steps, "Denoising steps (DPM-Solver++)")->capture_default_str();
  cmd->add_option("--guidance", options->guidance, "Classifier-free guidance scale (<= 1: off)")->capture_default_str();
  cmd->add_option("--seed", options->seed, "Seed of the random draws")->capture_default_str();
  cmd->add_option("--batch", options->batch, "Images per prompt")->capture_default_str();
  cmd->add_option("--noise", options->noise_file,
                  "safetensors with the random draws to use instead of the seed (" +
                      std::string(mode == "txt2img" ? "initial_latents" : "posterior_noise, noise") + ")");
  cmd->add_flag("--save-latents", options->save_latents, "Also write the final latents to <out>/latents.safetensors");
  cmd->add_option("--device", options->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", options->dtype, "fp32, fp16 or bf16")->capture_default_str();
  cmd->add_option("--out", options->out, "Output folder for the PNGs")->required();
  cmd->callback([options, mode] { run_sd(*options, mode); });
}

}  // namespace

void add_sd_command(CLI::App& app) {
  auto* sd = app.add_subcommand("sd", "Generate images with a Stable Diffusion 1.x model (diffusers folder)");
  sd->require_subcommand(1);
  add_mode(*sd, "txt2img", "Text to image");
  add_mode(*sd, "img2img", "Image to image (SDEdit) from reference images");
}

}  // namespace dmx::cli
