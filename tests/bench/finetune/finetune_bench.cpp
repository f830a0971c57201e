// Fine-tuning speed on the CPU: optimizer steps per second and peak resident memory, on the tiny reference model and
// on Stable Diffusion 1.5's architecture with random weights (written once to $DIFFMIX_BENCH_SD15_DIR, default
// /tmp/diffmix-bench-sd15, about 4 GB).
//
//   build/tests/bench/finetune/finetune_bench --benchmark_filter=Tiny   (DIFFMIX_SD_FIXTURES selects the fixtures)
//   build/tests/bench/finetune/finetune_bench --benchmark_filter=SD15/
//   DIFFMIX_BENCH_DEVICE=cuda build/tests/bench/finetune/finetune_bench --benchmark_filter=OnDevice   (GPU builds)
//
// Each iteration is one full optimizer step (forward, backward, clipping, AdamW) on a batch of random latents.
#include <benchmark/benchmark.h>

#include "../../sd/sd_fixtures.hpp"
#include "../common/peak_memory.hpp"
#include "diffmix/sd_finetune/finetuner.hpp"
#include "sd/random_sd_model.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {

std::string tiny_model_dir() { return dmx::test::sd_fixture_dir() + "/model"; }

using dmx::bench::peak_memory_mib;
using dmx::bench::reset_peak_memory;

// Full optimizer steps on random latents. state.range(0): strategy (0 ti, 1 db, 2 ti+db); range(1): batch size;
// range(2): latent side (image side / the VAE's downsampling factor). `precision`: BFloat16 runs the forward passes
// under autocast, the mixed-precision path CUDA takes with float16.
void run_finetune_steps(benchmark::State& state, const std::string& model_folder,
                        dmx::finetune::Precision precision = dmx::finetune::Precision::Float32,
                        const std::string& device = "cpu") {
  reset_peak_memory();
  const auto strategy = static_cast<dmx::finetune::Strategy>(state.range(0));
  const int64_t batch_size = state.range(1), side = state.range(2);
  dmx::finetune::FinetuneSettings settings;
  settings.strategy = strategy;
  settings.batch_size = batch_size;
  settings.initializer_token = "photo";
  settings.precision = precision;
  dmx::finetune::Finetuner tuner(model_folder, settings, {"a", "b", "c", "d"}, "photo", 0, device);
  auto generator = at::detail::createCPUGenerator(1);
  dmx::finetune::TrainingBatch batch;
  batch.latents = at::randn({batch_size, 4, side, side}, generator, at::kFloat);
  batch.noise = at::randn({batch_size, 4, side, side}, generator, at::kFloat);
  batch.timesteps = at::randint(0, 1000, {batch_size}, generator, at::kLong);
  for (int64_t b = 0; b < batch_size; ++b) batch.labels.push_back(b % 4);
  // On a GPU the first step pays for kernel selection and the allocator's first requests; it is not timed.
  if (device != "cpu") tuner.train_step(batch);
  // train_step reads the loss back to the host, so each timed step has finished on the device when it returns.
  for (auto _ : state) benchmark::DoNotOptimize(tuner.train_step(batch));
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch_size), benchmark::Counter::kIsRate);
  state.counters["peak_rss_MiB"] = peak_memory_mib();
  state.SetLabel(dmx::finetune::to_string(strategy) + " " + dmx::finetune::to_string(settings.precision));
}

void BM_FinetuneStepTiny(benchmark::State& state) { run_finetune_steps(state, tiny_model_dir()); }
void BM_FinetuneStepTinyBF16(benchmark::State& state) {
  run_finetune_steps(state, tiny_model_dir(), dmx::finetune::Precision::BFloat16);
}

std::string sd15_folder() {
  const char* dir = std::getenv("DIFFMIX_BENCH_SD15_DIR");
  return dmx::bench::write_random_sd_folder(dmx::bench::sd15_sizes(), tiny_model_dir(),
                                            dir && *dir ? dir : "/tmp/diffmix-bench-sd15");
}

void BM_FinetuneStepSD15(benchmark::State& state) { run_finetune_steps(state, sd15_folder()); }

// The paper's setting on an accelerator: $DIFFMIX_BENCH_DEVICE (e.g. "cuda"), precision "auto" (float16 autocast on
// CUDA). Peak memory here is the host's; watch the device's with nvidia-smi.
void BM_FinetuneStepSD15OnDevice(benchmark::State& state) {
  const char* device = std::getenv("DIFFMIX_BENCH_DEVICE");
  if (!device || !*device) {
    state.SkipWithError("set DIFFMIX_BENCH_DEVICE (e.g. cuda) to run on an accelerator");
    return;
  }
  run_finetune_steps(state, sd15_folder(), dmx::finetune::Precision::Auto, device);
}

BENCHMARK(BM_FinetuneStepTiny)
    ->ArgNames({"strategy", "batch", "latent"})
    ->Args({0, 8, 16})
    ->Args({1, 8, 16})
    ->Args({2, 8, 16})
    ->Args({2, 1, 16})
    ->Args({2, 8, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_FinetuneStepTinyBF16)
    ->ArgNames({"strategy", "batch", "latent"})
    ->Args({2, 8, 16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// SD 1.5 sizes at 256 px (32×32 latents), batch 1, each strategy: a few steps only, each takes seconds on a CPU.
// The random folder's tokenizer has CLIP's 49408 tokens, so textual inversion grows a full-size embedding table.
BENCHMARK(BM_FinetuneStepSD15)
    ->ArgNames({"strategy", "batch", "latent"})
    ->Args({0, 1, 32})
    ->Args({1, 1, 32})
    ->Args({2, 1, 32})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Batch 8 at 512 px (64×64 latents): the fine-tuning recipe of docs/method.md.
BENCHMARK(BM_FinetuneStepSD15OnDevice)
    ->ArgNames({"strategy", "batch", "latent"})
    ->Args({2, 8, 64})
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
