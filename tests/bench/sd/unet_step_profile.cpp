// Where a UNet step's time goes: the seconds per step of UNet2DConditionModel.forward at one latent size (batch 2, as
// with classifier-free guidance), then every LibTorch operator it ran with its calls, self time and inclusive time,
// recorded through LibTorch's RecordFunction callbacks. scripts/diffusers_unet_step.py --ops prints the same table
// for diffusers on the same LibTorch, and scripts/sd-side-by-side.sh puts the two side by side.
//
//   sd_unet_profile --model /tmp/diffmix-bench-sd15 --latent 64 --threads 2 --steps 3 [--json FILE]
//   sd_unet_profile --sd15 --latent 32        # writes (once) and uses the random-weight SD1.5-size folder
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "../common/peak_memory.hpp"
#include "diffmix/sd/unet_2d_condition.hpp"
#include "random_sd_model.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct OperatorTime {
  int64_t calls = 0;
  double self_s = 0;
  double inclusive_s = 0;
};

// The operators that are running on this thread, innermost last, and the totals per operator name.
struct OpenOperator {
  std::string name;
  Clock::time_point start;
  double children_s = 0;
};
thread_local std::vector<OpenOperator> open_operators;
std::map<std::string, OperatorTime> operator_times;

std::unique_ptr<at::ObserverContext> on_enter(const at::RecordFunction& fn) {
  open_operators.push_back({fn.name(), Clock::now(), 0.0});
  return nullptr;
}

void on_exit(const at::RecordFunction& /*fn*/, at::ObserverContext* /*context*/) {
  if (open_operators.empty()) return;
  const OpenOperator done = open_operators.back();
  open_operators.pop_back();
  const double elapsed = std::chrono::duration<double>(Clock::now() - done.start).count();
  OperatorTime& total = operator_times[done.name];
  ++total.calls;
  total.inclusive_s += elapsed;
  total.self_s += elapsed - done.children_s;
  if (!open_operators.empty()) open_operators.back().children_s += elapsed;
}

struct Options {
  std::string model;
  bool sd15 = false;
  int64_t latent = 32;
  int64_t batch = 2;
  int threads = 0;
  int steps = 3;
  std::string json;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", flag.c_str());
        std::exit(64);
      }
      return argv[++i];
    };
    if (flag == "--model") options.model = value();
    else if (flag == "--sd15") options.sd15 = true;
    else if (flag == "--latent") options.latent = std::stoll(value());
    else if (flag == "--batch") options.batch = std::stoll(value());
    else if (flag == "--threads") options.threads = std::stoi(value());
    else if (flag == "--steps") options.steps = std::stoi(value());
    else if (flag == "--json") options.json = value();
    else {
      std::fprintf(stderr, "usage: sd_unet_profile (--model DIR | --sd15) [--latent N] [--batch B] [--threads T] "
                           "[--steps K] [--json FILE]\nunknown argument: %s\n", flag.c_str());
      std::exit(64);
    }
  }
  if (options.model.empty() && !options.sd15) {
    std::fprintf(stderr, "sd_unet_profile: give --model DIR (a diffusers folder) or --sd15\n");
    std::exit(64);
  }
  return options;
}

std::string model_folder(const Options& options) {
  if (!options.sd15) return options.model;
  const char* folder = std::getenv("DIFFMIX_BENCH_SD15_DIR");
  return dmx::bench::write_random_sd_folder(dmx::bench::sd15_sizes(), DIFFMIX_BENCH_SD_FIXTURES "/model",
                                            folder && *folder ? folder : "/tmp/diffmix-bench-sd15");
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  if (options.threads > 0) at::set_num_threads(options.threads);
  const std::string folder = model_folder(options);
  const auto unet = dmx::sd::UNet2DConditionModel::load(folder + "/unet");
  c10::InferenceMode inference;
  at::manual_seed(0);
  const auto sample = at::randn({options.batch, unet.config().in_channels, options.latent, options.latent});
  const auto context = at::randn({options.batch, 77, unet.config().cross_attention_dim.at(0)});
  const auto timestep = at::scalar_tensor(500, at::kLong);
  std::printf("UNet2DConditionModel from %s; LibTorch %d threads; input (%lld, %lld, %lld, %lld)\n", folder.c_str(),
              at::get_num_threads(), static_cast<long long>(options.batch),
              static_cast<long long>(unet.config().in_channels), static_cast<long long>(options.latent),
              static_cast<long long>(options.latent));

  unet.forward(sample, timestep, context);  // warm-up: first-call allocations and kernel choices
  dmx::bench::reset_peak_memory();
  std::vector<double> seconds;
  for (int step = 0; step < options.steps; ++step) {
    const auto start = Clock::now();
    unet.forward(sample, timestep, context);
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  const double per_step = median(seconds);
  const double peak = dmx::bench::peak_memory_mib();
  std::printf("seconds per step (median of %d): %.4f\npeak RSS over the steps: %.1f MiB\n", options.steps, per_step,
              peak);

  // The profiled steps, apart: the callbacks cost a little per operator.
  const auto handle = at::addThreadLocalCallback(at::RecordFunctionCallback(on_enter, on_exit).needsInputs(false));
  for (int step = 0; step < options.steps; ++step) unet.forward(sample, timestep, context);
  at::removeCallback(handle);

  std::vector<std::pair<std::string, OperatorTime>> rows(operator_times.begin(), operator_times.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.self_s > b.second.self_s; });
  double total_self = 0;
  for (const auto& [name, time] : rows) total_self += time.self_s;
  std::printf("\noperators by self time, per step (self times add up to %.4f s)\n", total_self / options.steps);
  std::printf("  %-40s %8s %12s %7s %14s\n", "operator", "calls", "self ms", "%", "inclusive ms");
  nlohmann::json operators = nlohmann::json::array();
  for (const auto& [name, time] : rows) {
    const double self_ms = time.self_s * 1000.0 / options.steps;
    if (operators.size() < 25)
      std::printf("  %-40s %8lld %12.2f %7.1f %14.2f\n", name.c_str(),
                  static_cast<long long>(time.calls / options.steps), self_ms, 100.0 * time.self_s / total_self,
                  time.inclusive_s * 1000.0 / options.steps);
    operators.push_back({{"name", name}, {"calls", time.calls / options.steps}, {"self_ms", self_ms},
                         {"inclusive_ms", time.inclusive_s * 1000.0 / options.steps}});
  }
  if (!options.json.empty()) {
    const nlohmann::json out = {{"engine", "diffmix"},      {"model", folder},           {"latent", options.latent},
                                {"batch", options.batch},   {"threads", at::get_num_threads()},
                                {"steps_s", seconds},       {"seconds_per_step", per_step},
                                {"peak_rss_mib", peak},     {"operators", operators}};
    std::ofstream(options.json) << out.dump(2) << "\n";
  }
  return 0;
}
