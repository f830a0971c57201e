// Images per hour of each diffusion augmenter, made the way users make them: the registry loads diffusion.so and
// the sample source's next() denoises blocks of `batch_size` samples (25 DPM-Solver++ steps, guidance 7.5, each
// img2img sample at a strength drawn from the augmenter's defaults; `real_guidance` is real_aug at a fixed 0.1).
// Preparing the source (loading the model, and for the fine-tuned augmenters a one-step fine-tune that only creates
// artifacts of the right shape) is not timed.
//
//   synthesis_bench --benchmark_filter=tiny          # the tiny fixture model at 32 px, batch 4
//   synthesis_bench --benchmark_filter=sd15_256      # SD1.5's architecture, random weights, 256 px, batch 1
//   synthesis_bench --benchmark_filter=sd15_512      # the paper's 512 px (diff_mix only; minutes per image on a CPU)
//   DIFFMIX_BENCH_DEVICE=cuda synthesis_bench --benchmark_filter=OnDevice   # 512 px, batch 8, fp16 on a GPU
//
// The SD1.5-size folder is written to $DIFFMIX_BENCH_SD15_DIR (default /tmp/diffmix-bench-sd15) on first use.
// Counters: images_per_hour (samples × 3600 / wall seconds), mean_strength of the samples timed (img2img time is
// proportional to it), peak_rss_MiB.
#include <benchmark/benchmark.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "../../common/test_env.hpp"
#include "../common/peak_memory.hpp"
#include "../sd/random_sd_model.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/dataset.hpp"
#include "diffmix/registry.hpp"
#include "diffmix/sample_source.hpp"

namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::string tiny_folder() { return dmx::test::source_dir() + "/tests/fixtures/sd-tiny/model"; }

std::string sd15_folder() {
  static const std::string folder = dmx::bench::write_random_sd_folder(
      dmx::bench::sd15_sizes(), tiny_folder(), env_or("DIFFMIX_BENCH_SD15_DIR", "/tmp/diffmix-bench-sd15"));
  return folder;
}

// Four random RGB photos per class of `width` × `height`, ten classes: references for the img2img augmenters.
class RandomPhotos : public dmx::data::Dataset {
 public:
  RandomPhotos(int64_t width, int64_t height) {
    auto generator = at::detail::createCPUGenerator(3);
    for (int64_t c = 0; c < 10; ++c) {
      names_.push_back("class" + std::to_string(c));
      for (int i = 0; i < 4; ++i) images_.push_back(at::randint(0, 256, {height, width, 3}, generator, at::kByte));
    }
  }
  int64_t size() const override { return static_cast<int64_t>(images_.size()); }
  int64_t label(int64_t index) const override { return index / 4; }
  at::Tensor load_image(int64_t index, const dmx::data::ImageRequest& = {}) const override {
    return images_.at(static_cast<size_t>(index));
  }
  const std::vector<std::string>& class_names() const override { return names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override { return "random photo " + std::to_string(index); }

 private:
  std::vector<std::string> names_;
  std::vector<at::Tensor> images_;
  std::string metaclass_ = "photo";  // one token of the benchmark tokenizers: new class tokens start from it
  std::string name_ = "random photos";
};

struct Setting {
  std::string model;         // a diffusers folder
  int64_t resolution = 32;   // synthesis resolution
  int64_t batch_size = 1;    // images per denoising batch, and per timed iteration
  int64_t finetune_px = 32;  // resolution of the one-step fine-tune that makes the artifacts
  std::string device = "cpu";
};

dmx::PluginRegistry& registry() {
  static dmx::PluginRegistry registry([] {
    dmx::RegistryOptions options;
    options.search_paths = {dmx::test::plugin_dir()};
    options.use_environment = false;
    return options;
  }());
  return registry;
}

// The fine-tuning a strategy needs: "ti" for Da-Fusion, "ti+db" for the Diff- augmenters, none for the others.
std::string finetune_kind(const std::string& augmenter) {
  if (augmenter == "da_fusion") return "ti";
  if (augmenter.rfind("diff_", 0) == 0) return "ti+db";
  return "";
}

// "real_guidance" is Real-Aug at a fixed strength of 0.1.
std::string source_table(const std::string& name_or_guidance, const Setting& setting, const std::string& name) {
  const bool guidance = name_or_guidance == "real_guidance";
  const std::string augmenter = guidance ? "real_aug" : name_or_guidance;
  std::string table = std::string(guidance ? "strengths = [0.1]\n" : "") + "augmenter = \"" + augmenter +
                      "\"\nmodel = \"" + setting.model + "\"\nresolution = " +
                      std::to_string(setting.resolution) + "\nbatch_size = " + std::to_string(setting.batch_size) +
                      "\nstream_count = 1000000\n";
  const std::string kind = finetune_kind(augmenter);
  if (kind.empty()) return table;
  // One artifacts folder per model, size and kind, made once by the source's own [finetune] in prepare().
  const auto folder = fs::temp_directory_path() / ("diffmix-bench-synthesis-" + name + "-" + (kind == "ti" ? "ti" : "tidb"));
  return table + "finetuned = \"" + folder.string() + "\"\n[finetune]\nsteps = 1\nbatch_size = 1\nresolution = " +
         std::to_string(setting.finetune_px) + "\n";
}

void make_images(benchmark::State& state, const std::string& augmenter, const Setting& setting,
                 const std::string& name) {
  static std::map<int64_t, std::shared_ptr<RandomPhotos>> photos;
  auto& dataset = photos[setting.resolution];
  if (!dataset) dataset = std::make_shared<RandomPhotos>(setting.resolution * 3 / 4, setting.resolution);
  const auto document = dmx::config::Document::parse_string(source_table(augmenter, setting, name), "bench.toml");
  dmx::SampleSourceContext context;
  context.num_classes = dataset->num_classes();
  context.seed = 1;
  context.device = setting.device;
  context.dataset = dataset;
  const auto source = registry().create_sample_source(augmenter == "real_guidance" ? "real_aug" : augmenter,
                                                       document.root(), context);
  source->prepare();

  dmx::bench::reset_peak_memory();
  double strengths = 0.0;
  int64_t samples = 0;
  for (auto _ : state) {
    for (int64_t i = 0; i < setting.batch_size; ++i) {
      const auto sample = source->next();
      strengths += sample->strength;
      ++samples;
    }
  }
  state.counters["images_per_hour"] =
      benchmark::Counter(static_cast<double>(samples) * 3600.0, benchmark::Counter::kIsRate);
  state.counters["mean_strength"] = strengths / static_cast<double>(samples);
  state.counters["peak_rss_MiB"] = dmx::bench::peak_memory_mib();
  state.counters["threads"] = at::get_num_threads();
}

const char* const kAugmenters[] = {"real_gen", "real_aug", "real_guidance", "real_mix", "da_fusion",
                                   "diff_gen", "diff_aug", "diff_mix"};

void register_benchmarks() {
  for (const char* augmenter : kAugmenters) {
    benchmark::RegisterBenchmark((std::string("tiny/") + augmenter).c_str(), [augmenter](benchmark::State& state) {
      make_images(state, augmenter, {tiny_folder(), 32, 4, 32}, "tiny");
    })->MinTime(3)->UseRealTime()->Unit(benchmark::kSecond);
    benchmark::RegisterBenchmark((std::string("sd15_256/") + augmenter).c_str(), [augmenter](benchmark::State& state) {
      make_images(state, augmenter, {sd15_folder(), 256, 1, 64}, "sd15");
    })->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);
  }
  benchmark::RegisterBenchmark("sd15_512/diff_mix", [](benchmark::State& state) {
    make_images(state, "diff_mix", {sd15_folder(), 512, 1, 64}, "sd15");
  })->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);
  // The paper's throughput setting on an accelerator: 512 px, batch 8, precision auto (fp16 on CUDA).
  benchmark::RegisterBenchmark("OnDevice/sd15_512/diff_mix", [](benchmark::State& state) {
    const std::string device = env_or("DIFFMIX_BENCH_DEVICE", "");
    if (device.empty()) {
      state.SkipWithError("set DIFFMIX_BENCH_DEVICE (e.g. cuda) to run on an accelerator");
      return;
    }
    make_images(state, "diff_mix", {sd15_folder(), 512, 8, 64, device}, "sd15");
  })->Iterations(3)->UseRealTime()->Unit(benchmark::kSecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
