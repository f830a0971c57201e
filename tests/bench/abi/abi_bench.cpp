// The cost of one batch call through the plugin ABI against a direct C++ call, and CutMix / Mixup on a
// 64×3×224×224 batch.
//   build/tests/bench/abi/abi_bench            (DIFFMIX_BUILD_DIR defaults to the build folder it was made in)
#include <benchmark/benchmark.h>

#include <ATen/ATen.h>

#include "diffmix/augmenter.hpp"
#include "diffmix/config.hpp"
#include "diffmix/registry.hpp"
#include "passthrough.hpp"

namespace {

dmx::PluginRegistry& registry() {
  static dmx::PluginRegistry instance([] {
    dmx::RegistryOptions options;
    options.search_paths = {DIFFMIX_BENCH_PLUGIN_DIR, DIFFMIX_BENCH_TEST_PLUGIN_DIR};
    options.use_environment = false;
    options.use_install_dir = false;
    return options;
  }());
  return instance;
}

std::shared_ptr<dmx::BatchAugmenter> make(const std::string& toml) {
  const auto doc = dmx::config::Document::parse_string(toml, "bench.toml");
  return registry().create_batch_augmenter(doc.root().required_string("augmenter"), doc.root(), {1000, 1});
}

// The same do-nothing augmenter, linked in and called through the host's C++ interface.
class DirectPassthrough final : public dmx::BatchAugmenter {
 public:
  dmx::Batch apply(const dmx::Batch& batch, uint64_t step) override { return impl_.apply(batch, step); }
  const std::string& name() const override { return name_; }

 private:
  Passthrough impl_{0};
  std::string name_ = "passthrough";
};

dmx::Batch small_batch() { return {at::randn({64, 3, 32, 32}), at::softmax(at::randn({64, 1000}), 1)}; }

void BM_DirectCall(benchmark::State& state) {
  std::shared_ptr<dmx::BatchAugmenter> augmenter = std::make_shared<DirectPassthrough>();
  const auto batch = small_batch();
  uint64_t step = 0;
  for (auto _ : state) benchmark::DoNotOptimize(augmenter->apply(batch, step++));
}
BENCHMARK(BM_DirectCall);

void BM_AbiCall(benchmark::State& state) {
  auto augmenter = make("augmenter = \"passthrough\"\n");
  const auto batch = small_batch();
  uint64_t step = 0;
  for (auto _ : state) benchmark::DoNotOptimize(augmenter->apply(batch, step++));
}
BENCHMARK(BM_AbiCall);

void BM_Augmenter(benchmark::State& state, const std::string& toml) {
  auto augmenter = make(toml);
  const dmx::Batch batch{at::rand({64, 3, 224, 224}), at::softmax(at::randn({64, 1000}), 1)};
  uint64_t step = 0;
  for (auto _ : state) benchmark::DoNotOptimize(augmenter->apply(batch, step++));
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK_CAPTURE(BM_Augmenter, cutmix_64x3x224x224, "augmenter = \"cutmix\"\nprob = 1.0\n")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Augmenter, mixup_64x3x224x224, "augmenter = \"mixup\"\nprob = 1.0\n")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
