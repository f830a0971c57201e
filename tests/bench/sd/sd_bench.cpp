// Speed and peak memory of the Stable Diffusion engine's parts on the CPU (or --device): a UNet step with guidance
// (batch 2), VAE encode and decode, the text encoder, and an img2img run timed per step, for the tiny fixture model
// and for Stable Diffusion 1.5's architecture with random weights.
//
//   sd_bench --benchmark_filter=sd15            # SD1.5 sizes only (writes a 4.3 GB random model once, see below)
//
// The SD1.5-size model is written to $DIFFMIX_BENCH_SD15_DIR (default /tmp/diffmix-bench-sd15) on first use and
// reused afterwards. Peak memory is the process's resident high-water mark (VmHWM), reset before each benchmark.
#include "../common/peak_memory.hpp"
#include "diffmix/sd/autoencoder_kl.hpp"
#include "diffmix/sd/clip_text_model.hpp"
#include "diffmix/sd/pipeline_stable_diffusion.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"
#include "random_sd_model.hpp"

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>

namespace {

using dmx::sd::StableDiffusion;

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::string tiny_folder() { return env_or("DIFFMIX_SD_FIXTURES", DIFFMIX_BENCH_SD_FIXTURES) + "/model"; }

// The models, loaded once per size ("tiny" or "sd15").
const StableDiffusion& pipeline(const std::string& size) {
  static std::map<std::string, std::unique_ptr<StableDiffusion>> loaded;
  auto& slot = loaded[size];
  if (!slot) {
    std::string folder = tiny_folder();
    if (size == "sd15")
      folder = dmx::bench::write_random_sd_folder(dmx::bench::sd15_sizes(), tiny_folder(),
                                                  env_or("DIFFMIX_BENCH_SD15_DIR", "/tmp/diffmix-bench-sd15"));
    slot = std::make_unique<StableDiffusion>(StableDiffusion::load(folder));
  }
  return *slot;
}

using dmx::bench::peak_memory_mib;
using dmx::bench::reset_peak_memory;

void report_memory(benchmark::State& state) {
  state.counters["peak_rss_MiB"] = peak_memory_mib();
  state.counters["threads"] = at::get_num_threads();
}

void unet_step(benchmark::State& state, const std::string& size, int64_t latent) {
  c10::InferenceMode inference;
  const auto& sd = pipeline(size);
  const auto& unet = sd.unet();
  const auto sample = at::randn({2, unet.config().in_channels, latent, latent});
  const auto context = at::randn({2, 77, unet.config().cross_attention_dim.at(0)});
  const auto t = at::scalar_tensor(500, at::kLong);
  reset_peak_memory();
  for (auto _ : state) benchmark::DoNotOptimize(unet.forward(sample, t, context));
  report_memory(state);
}

void vae_encode(benchmark::State& state, const std::string& size, int64_t latent) {
  c10::InferenceMode inference;
  const auto& vae = pipeline(size).vae();
  const int64_t pixels = latent * vae.downsampling_factor();
  const auto images = at::rand({1, 3, pixels, pixels}) * 2 - 1;
  reset_peak_memory();
  for (auto _ : state) benchmark::DoNotOptimize(vae.encode(images).mean());
  report_memory(state);
}

void vae_decode(benchmark::State& state, const std::string& size, int64_t latent) {
  c10::InferenceMode inference;
  const auto& vae = pipeline(size).vae();
  const auto latents = at::randn({1, vae.config().latent_channels, latent, latent});
  reset_peak_memory();
  for (auto _ : state) benchmark::DoNotOptimize(vae.decode(latents));
  report_memory(state);
}

void text_encoder(benchmark::State& state, const std::string& size) {
  const auto& sd = pipeline(size);
  reset_peak_memory();
  for (auto _ : state) benchmark::DoNotOptimize(sd.encode_prompts({"", "a photo of a sparrow, a kind of bird"}));
  report_memory(state);
}

// One img2img run of a few steps at `pixels`; the per-step time and the rest (text, VAE encode and decode) give
// the throughput of the paper's setting: 25 steps at strength 0.7 run 17 steps.
void img2img(benchmark::State& state, const std::string& size, int64_t pixels) {
  const auto& sd = pipeline(size);
  dmx::sd::Img2ImgRequest request;
  request.prompts = {"a photo of a sparrow, a kind of bird"};
  request.images = at::rand({1, 3, pixels, pixels});
  request.num_inference_steps = 25;
  request.strength = 0.14;  // int(25 x 0.14) = 3 steps
  using Clock = std::chrono::steady_clock;
  // The first step's interval also holds text encoding, VAE encoding and noising, so steps are timed from the
  // second on; the rest of a run (those, and decoding) is the fixed cost per image.
  double later_step_seconds = 0.0, total_seconds = 0.0;
  int64_t later_steps = 0, steps = 0;
  reset_peak_memory();
  for (auto _ : state) {
    auto last = Clock::now();
    const auto start = last;
    request.on_step = [&](const dmx::sd::DenoisingStep& step) {
      const auto now = Clock::now();
      if (step.index > 0) {
        later_step_seconds += std::chrono::duration<double>(now - last).count();
        ++later_steps;
      }
      last = now;
      ++steps;
    };
    benchmark::DoNotOptimize(sd.img2img(request).images);
    total_seconds += std::chrono::duration<double>(Clock::now() - start).count();
  }
  const double per_step = later_steps > 0 ? later_step_seconds / static_cast<double>(later_steps) : 0.0;
  const double runs = static_cast<double>(state.iterations());
  const double fixed = total_seconds / runs - per_step * static_cast<double>(steps) / runs;
  state.counters["step_s"] = per_step;
  state.counters["fixed_s"] = fixed;
  state.counters["images_per_hour_s0.7_T25"] = 3600.0 / (fixed + 17.0 * per_step);
  report_memory(state);
}

void register_all() {
  using benchmark::RegisterBenchmark;
  for (const std::string size : {"tiny", "sd15"}) {
    const bool large = size == "sd15";
    auto configure = [large](benchmark::internal::Benchmark* b) {
      b->Unit(benchmark::kMillisecond)->UseRealTime();
      if (large) b->Iterations(1);
    };
    for (const int64_t latent : {32, 64}) {
      const std::string suffix = "/" + size + "/latent:" + std::to_string(latent);
      configure(RegisterBenchmark(("unet_step_cfg" + suffix).c_str(), unet_step, size, latent));
      configure(RegisterBenchmark(("vae_encode" + suffix).c_str(), vae_encode, size, latent));
      configure(RegisterBenchmark(("vae_decode" + suffix).c_str(), vae_decode, size, latent));
    }
    configure(RegisterBenchmark(("text_encoder/" + size).c_str(), text_encoder, size));
    const int64_t pixels = large ? 512 : 32;
    configure(RegisterBenchmark(("img2img_3_steps/" + size + "/px:" + std::to_string(pixels)).c_str(), img2img, size,
                                pixels));
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
