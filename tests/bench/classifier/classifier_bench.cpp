// Classifier training speed on the CPU: one SGD step (forward, soft-target cross-entropy, backward, momentum update)
// per iteration, for each architecture `diffmix train` offers, with peak resident memory.
//
//   build/tests/bench/classifier/classifier_bench
//   build/tests/bench/classifier/classifier_bench --benchmark_filter=vit_b16
#include <benchmark/benchmark.h>

#include "../common/peak_memory.hpp"
#include "diffmix/classifier/classifier.hpp"
#include "diffmix/classifier/loss.hpp"
#include "diffmix/classifier/sgd.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <string>

namespace {

// state.range(0): batch size, range(1): image side. The model has 200 classes (CUB).
void train_steps(benchmark::State& state, const std::string& architecture) {
  dmx::bench::reset_peak_memory();
  const int64_t batch = state.range(0), side = state.range(1), classes = 200;
  at::manual_seed(0);
  auto model = dmx::classifier::make_classifier({architecture, classes, 3, side});
  model->train();
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  for (const auto& item : model->named_parameters()) parameters.emplace_back(item.key(), item.value());
  dmx::classifier::MomentumSgd optimizer(parameters, {});
  auto generator = at::detail::createCPUGenerator(1);
  const auto images = at::randn({batch, 3, side, side}, generator);
  const auto labels = dmx::classifier::smooth_labels(
      at::one_hot(at::randint(0, classes, {batch}, generator, at::kLong), classes).to(at::kFloat), 0.9);
  for (auto _ : state) {
    const auto loss = dmx::classifier::soft_cross_entropy(model->forward(images), labels);
    loss.backward();
    optimizer.step(0.01);
    optimizer.zero_grad();
    benchmark::DoNotOptimize(loss.item<double>());
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch), benchmark::Counter::kIsRate);
  state.counters["peak_rss_MiB"] = dmx::bench::peak_memory_mib();
}

void BM_TrainStep_small_cnn(benchmark::State& state) { train_steps(state, "small_cnn"); }
void BM_TrainStep_resnet50(benchmark::State& state) { train_steps(state, "resnet50"); }
void BM_TrainStep_vit_tiny16(benchmark::State& state) { train_steps(state, "vit_tiny16"); }
void BM_TrainStep_vit_b16(benchmark::State& state) { train_steps(state, "vit_b16"); }

BENCHMARK(BM_TrainStep_small_cnn)->ArgNames({"batch", "side"})->Args({64, 28})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainStep_resnet50)->ArgNames({"batch", "side"})->Args({8, 224})->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainStep_vit_tiny16)->ArgNames({"batch", "side"})->Args({8, 224})->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainStep_vit_b16)->ArgNames({"batch", "side"})->Args({8, 224})->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
