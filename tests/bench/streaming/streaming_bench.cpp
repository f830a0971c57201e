// The cost of streaming on training speed: small_cnn SGD steps fed by the Loader from 512 in-memory 28×28 RGB images
// (10 classes, batch 32, one decoding worker), real data only versus a live stream from the blend_source test plugin
// (producer and writer threads making, PNG-encoding and fsyncing samples while training runs) at p = 0.1 and 0.5.
// Each benchmark starts with an empty cache, so the stream works throughout. The ratios to the real-only baseline
// are printed at the end.
//
//   build/tests/bench/streaming/streaming_bench
#include <benchmark/benchmark.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "../../common/test_env.hpp"
#include "diffmix/classifier/classifier.hpp"
#include "diffmix/classifier/loss.hpp"
#include "diffmix/classifier/sgd.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/loader.hpp"
#include "diffmix/data/sample_stream.hpp"
#include "diffmix/registry.hpp"

namespace {

constexpr int64_t kClasses = 10, kImages = 512, kSide = 28, kBatch = 32;

// Random uint8 images held in memory, so that the baseline measures training and not the disk.
class RandomImages : public dmx::data::Dataset {
 public:
  RandomImages() {
    auto generator = at::detail::createCPUGenerator(3);
    images_ = at::randint(0, 256, {kImages, kSide, kSide, 3}, generator, at::kByte);
    for (int64_t c = 0; c < kClasses; ++c) names_.push_back("class_" + std::to_string(c));
  }
  int64_t size() const override { return kImages; }
  int64_t label(int64_t index) const override { return index % kClasses; }
  at::Tensor load_image(int64_t index, const dmx::data::ImageRequest&) const override { return images_[index].clone(); }
  const std::vector<std::string>& class_names() const override { return names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t index) const override { return "random image " + std::to_string(index); }

 private:
  at::Tensor images_;
  std::vector<std::string> names_;
  std::string metaclass_ = "thing", name_ = "random images";
};

std::map<std::string, double> steps_per_second;  // by benchmark, for the ratios printed at the end

std::shared_ptr<dmx::data::SampleStream> start_stream(const dmx::data::DatasetPtr& real) {
  static dmx::PluginRegistry registry([] {
    dmx::RegistryOptions options;
    options.search_paths = {dmx::test::test_plugin_dir()};
    return options;
  }());
  const auto doc = dmx::config::Document::parse_string("augmenter = \"blend_source\"\nstream_count = 1000000\n",
                                                        "bench.toml");
  dmx::SampleSourceContext context;
  context.num_classes = kClasses;
  context.dataset = real;
  dmx::data::SampleStreamOptions options;
  options.cache = (std::filesystem::temp_directory_path() / "diffmix-streaming-bench").string();
  std::filesystem::remove_all(options.cache);
  options.total = 1000000;
  return std::make_shared<dmx::data::SampleStream>(registry.create_sample_source("blend_source", doc.root(), context),
                                                   kClasses, options);
}

// state.range(0): p in percent; -1 is the real-only baseline.
void BM_TrainSteps(benchmark::State& state) {
  at::set_num_threads(1);
  const auto real = std::make_shared<RandomImages>();
  std::shared_ptr<dmx::data::SampleStream> stream = state.range(0) >= 0 ? start_stream(real) : nullptr;
  dmx::data::MixerOptions mixer_options;
  mixer_options.probability = state.range(0) >= 0 ? static_cast<double>(state.range(0)) / 100.0 : 0.0;
  auto mixer = std::make_shared<dmx::data::Mixer>(real, stream, mixer_options);
  dmx::data::LoaderOptions loader_options;
  loader_options.batch_size = kBatch;
  loader_options.workers = 1;
  dmx::data::Loader loader(mixer, dmx::data::Transforms().random_crop(kSide, kSide, 2).normalize({0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}),
                           loader_options);

  at::manual_seed(0);
  auto model = dmx::classifier::make_classifier({"small_cnn", kClasses, 3, kSide});
  model->train();
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  for (const auto& item : model->named_parameters()) parameters.emplace_back(item.key(), item.value());
  dmx::classifier::MomentumSgd optimizer(parameters, {});

  uint64_t epoch = 0;
  loader.start_epoch(epoch);
  for (auto _ : state) {
    auto batch = loader.next();
    if (!batch) {
      loader.start_epoch(++epoch);
      batch = loader.next();
    }
    const auto loss = dmx::classifier::soft_cross_entropy(model->forward(batch->images),
                                                          dmx::classifier::smooth_labels(batch->labels, 0.9));
    loss.backward();
    optimizer.step(0.01);
    optimizer.zero_grad();
    benchmark::DoNotOptimize(loss.item<double>());
  }
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (stream) {
    state.counters["streamed"] = static_cast<double>(stream->size());
    stream->stop();
  }
}

// Captures each run's steps/s for the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs)
      if (run.counters.count("steps/s")) steps_per_second[run.benchmark_name()] = run.counters.at("steps/s");
    ConsoleReporter::ReportRuns(runs);
  }
};

BENCHMARK(BM_TrainSteps)->ArgName("p_percent")->Arg(-1)->Arg(10)->Arg(50)->MinTime(15)->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto baseline = steps_per_second.end();
  for (auto it = steps_per_second.begin(); it != steps_per_second.end(); ++it)
    if (it->first.find("p_percent:-1/") != std::string::npos) baseline = it;
  if (baseline != steps_per_second.end())
    for (const auto& [name, rate] : steps_per_second)
      std::printf("%-40s %7.2f steps/s  %.3f× real-only\n", name.c_str(), rate, rate / baseline->second);
  benchmark::Shutdown();
  return 0;
}
