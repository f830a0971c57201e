// `diffmix synthesize CONFIG`: fills a synthetic cache (images + manifest.jsonl) with a sample source plugin. The
// cache is the whole state of the run: interrupt with Ctrl-C and run the same command again to continue; samples
// already in the manifest are not made again.
//
//   [data]                      # the training set, as `diffmix finetune` reads it
//   kind = "image-folder"
//   root = "birds"
//   [synthesis]
//   output = "cache/diffmix"    # the cache folder
//   multiplier = 5              # 5 × |train| samples (or `count = 1000`)
//   seed = 0
//   device = "cpu"
//   [synthesis.source]          # the sample source and its own keys, checked against the plugin's schema
//   augmenter = "diff_mix"
//
// Spread over workers (docs/distributed.md): `--shard i/N` makes shard i of N into <output>/shards/i-of-N and
// `--merge` copies the finished shards into <output>; with `--nproc-per-node N`, or under torchrun, each rank makes
// its shard and rank 0 merges them once every rank is done.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "commands.hpp"
#include "config_check.hpp"
#include "distributed_launch.hpp"
#include "diffmix/cancellation.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/cache_shards.hpp"
#include "diffmix/data/dataset_config.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/diffusion/cache_filter.hpp"
#include "diffmix/diffusion/clip_filter.hpp"
#include "diffmix/distributed.hpp"
#include "diffmix/error.hpp"
#include "diffmix/progress.hpp"
#include "diffmix/registry.hpp"
#include "diffmix/sample_source.hpp"

namespace dmx::cli {
namespace {

constexpr config::Range kNonNegative{0, 1e12};

struct SynthesizeOptions {
  std::string config_path;
  std::string output;
  bool check = false;
  std::string shard;  // "i/N": make only that shard
  bool merge = false;  // merge the finished shards instead of making samples
  DistributedOptions distributed;
};

struct SynthesisSettings {
  std::string output;
  std::optional<int64_t> count;     // exactly one of count and multiplier is set
  std::optional<double> multiplier;
  uint64_t seed = 0;
  std::string device = "cpu";
  std::string cache_dir;
};

SynthesisSettings read_synthesis(const config::Table& table) {
  SynthesisSettings settings;
  settings.output = table.required_string("output");
  if (table.has("count") && table.has("multiplier"))
    throw config_error(table.where("multiplier") + ": give either `count` or `multiplier` in [" + table.path() +
                       "], not both");
  if (table.has("multiplier")) settings.multiplier = table.required_number("multiplier", {1e-6, 1e6});
  else settings.count = table.required_integer("count", {1, 1e12});
  settings.seed = static_cast<uint64_t>(table.integer("seed", 0, kNonNegative));
  settings.device = table.string("device", settings.device);
  settings.cache_dir = table.string("cache_dir", "");
  return settings;
}

// [synthesis.filter]: the CLIP filter run over the finished cache (docs/method.md). Its result is
// manifest.filtered.jsonl beside manifest.jsonl; training reads it with [synthetic] filtered = true.
struct FilterSettings {
  std::string clip;  // a transformers CLIPModel folder (the paper: openai/clip-vit-base-patch32)
  std::string metaclass;
  double drop_fraction = diffusion::kDefaultDropFraction;
  int64_t batch_size = 32;
};

FilterSettings read_filter(const config::Table& table) {
  FilterSettings settings;
  settings.clip = table.required_string("clip");
  settings.metaclass = table.string("metaclass", "");
  settings.drop_fraction = table.number("drop_fraction", settings.drop_fraction, {0.0, 0.99});
  settings.batch_size = table.integer("batch_size", settings.batch_size, {1, 4096});
  return settings;
}

void filter_cache(const FilterSettings& settings, const std::string& folder, const data::Dataset& dataset,
                  const std::string& device) {
  const std::string metaclass = settings.metaclass.empty() ? dataset.metaclass() : settings.metaclass;
  const auto filter = diffusion::ClipFilter::load(settings.clip, metaclass, at::Device(device));
  std::optional<Progress> progress;  // the total is known once the filter has read the manifest
  diffusion::CacheFilterOptions options;
  options.drop_fraction = settings.drop_fraction;
  options.batch_size = settings.batch_size;
  options.on_progress = [&progress](int64_t done, int64_t total) {
    if (!progress) progress.emplace("CLIP filter", static_cast<uint64_t>(total), "sample");
    progress->set(static_cast<uint64_t>(done));
  };
  const auto summary = diffusion::filter_synthetic_cache(filter, folder, dataset.num_classes(), options);
  if (progress) progress->finish();
  std::printf("CLIP filter (\"a photo with a %s on it\"): kept %zu of %lld samples in %s/%s\n", metaclass.c_str(),
              summary.kept.size(), static_cast<long long>(summary.samples), folder.c_str(),
              data::kFilteredManifestFileName);
}

// [synthesis.source] is the plugin's table: the registry checks its keys against the plugin's schema, so the
// host's own key check (finish) leaves it alone.
config::Table source_table(const config::Table& synthesis) {
  synthesis.skip("source");
  const toml::node* node = synthesis.raw().get("source");
  if (!node) throw config_error(synthesis.source() + ": missing table [" + synthesis.path() + ".source] (the "
                                "sample source: augmenter = \"<name>\" and its keys)");
  const toml::table* table = node->as_table();
  if (!table) throw config_error(synthesis.where("source") + ": 'source' must be a table ([synthesis.source])");
  return config::Table(*table, synthesis.source(), synthesis.path() + ".source");
}

// The shard this process makes: --shard, or its rank among the processes the environment describes; none alone.
std::optional<data::CacheShard> shard_of_this_process(const SynthesizeOptions& options) {
  if (!options.shard.empty()) return data::parse_shard(options.shard);
  if (const auto world = dist::world_from_environment()) return data::CacheShard{world->rank, world->size};
  return std::nullopt;
}

// Workers that share a filesystem share the fine-tuned model: one of them fine-tunes it, the others wait until it
// lets go of the folder, then load it.
void prepare_when_free(SampleSource& source) {
  bool told = false;
  for (;;) {
    try {
      return source.prepare();
    } catch (const Error& e) {
      if (e.category() != ErrorCategory::Busy) throw;
      if (!told) spdlog::info("{}; waiting for it", e.what());
      told = true;
    }
    for (int tick = 0; tick < 50 && !cancel_requested(); ++tick)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    throw_if_cancelled("waiting for the fine-tuned model");
  }
}

bool cache_holds(const std::string& folder, int64_t count, int64_t num_classes) {
  if (!std::filesystem::exists(std::filesystem::path(folder) / data::kManifestFileName)) return false;
  return data::SyntheticCache::open(folder, num_classes)->size() >= count;
}

void make_shard(SampleSource& source, const std::string& cache, const std::string& made_by, int64_t count,
                int64_t num_classes, const data::CacheShard& shard) {
  if (cache_holds(cache, count, num_classes)) {
    spdlog::info("{}: already holds all {} samples; shard {} has nothing to make", cache, count,
                 data::to_string(shard));
    return;
  }
  if (!source.can_synthesize_part())
    throw unsupported("sample source '" + source.name() + "' cannot make a shard of a run (its plugin offers no " +
                      "`synthesize_part`, added in ABI 1.3): synthesize with one process");
  const std::string folder = data::shard_folder(cache, shard);
  data::SyntheticCacheWriter(folder, ".png", data::shard_made_by(made_by, count, shard));
  prepare_when_free(source);
  const dist::Share samples = data::shard_samples(count, shard);
  spdlog::info("{}: shard {}: {} samples ({} to {}) of {} into {}", source.name(), data::to_string(shard),
               samples.end - samples.begin, samples.begin, samples.end - 1, count, folder);
  source.synthesize_part(folder, count, samples.begin, samples.end);
}

// Rank 0 merges once every rank has made its shard. A rank that failed or is still working is named, and the
// finished shards stay for a later --merge.
bool wait_for_every_shard(dist::ProcessGroup& group) {
  try {
    group.barrier("the end of every shard");
  } catch (const Error& e) {
    throw Error(e.category(), std::string(e.what()) + "; the finished shards are kept: run the failed shard again " +
                                  "(--shard i/N), then merge with `diffmix synthesize CONFIG --merge`");
  }
  return group.is_main();
}

void report_cache(const std::string& folder, const std::string& source_name, int64_t num_classes) {
  const auto cache = data::SyntheticCache::open(folder, num_classes);
  std::printf("%lld samples by %s in %s (%s)\n", static_cast<long long>(cache->size()), source_name.c_str(),
              cache->folder().c_str(), data::kManifestFileName);
}

void run_synthesize(const SynthesizeOptions& options) {
  const auto document = config::Document::parse_file(options.config_path);
  const auto root = document.root();
  const auto data_table = root.table("data");
  const data::DatasetSpec spec = data_table ? data::read_dataset_spec(*data_table) : data::DatasetSpec{};
  const auto synthesis_table = root.table("synthesis");
  if (!synthesis_table)
    throw config_error(options.config_path + ": missing table [synthesis] (output, count or multiplier, source)");
  SynthesisSettings settings = read_synthesis(*synthesis_table);
  std::optional<FilterSettings> filter;
  if (auto filter_table = synthesis_table->table("filter")) filter = read_filter(*filter_table);
  const config::Table source = source_table(*synthesis_table);
  const std::string source_name = source.required_string("augmenter");
  std::vector<std::string> plugin_paths;
  if (auto plugins = root.table("plugins")) plugin_paths = plugins->string_list("path", {});
  root.finish();
  if (options.check) return report_config_checked(options.config_path, "synthesize");
  if (!options.output.empty()) settings.output = options.output;
  if (!options.shard.empty() && (options.merge || options.distributed.nproc_per_node > 1))
    throw config_error("--shard " + options.shard + " makes one shard in this process: give it without --merge and " +
                       "--nproc-per-node");
  if (run_as_local_ranks(options.distributed)) return;
  const auto shard = options.merge ? std::nullopt : shard_of_this_process(options);
  Membership membership;
  if (shard && options.shard.empty()) {
    membership = join_group(options.distributed, settings.device);
    settings.device = device_of_rank(settings.device, membership.local_rank);
  }

  const data::DatasetPtr dataset = data::open_dataset(spec);
  const int64_t count = settings.count ? *settings.count
                                       : std::max<int64_t>(1, std::llround(*settings.multiplier *
                                                                           static_cast<double>(dataset->size())));
  const std::string made_by = sample_source_record(source, settings.seed);
  const auto merge_and_report = [&] {
    const int shards = data::shard_count_in(settings.output);
    if (shards == 0 && !cache_holds(settings.output, count, dataset->num_classes()))
      throw not_found(settings.output + "/shards holds no shards to merge: make them with `diffmix synthesize " +
                      options.config_path + " --shard i/N`, or with --nproc-per-node N");
    data::merge_cache_shards(settings.output, made_by, count, shards, dataset->num_classes());
    report_cache(settings.output, source_name, dataset->num_classes());
    if (filter) filter_cache(*filter, settings.output, *dataset, settings.device);
  };
  if (options.merge) return merge_and_report();

  RegistryOptions registry_options;
  registry_options.search_paths = plugin_paths;
  PluginRegistry registry(registry_options);
  SampleSourceContext context;
  context.num_classes = dataset->num_classes();
  context.seed = settings.seed;
  context.device = settings.device;
  context.cache_dir = settings.cache_dir;
  context.dataset = dataset;
  const auto sample_source = registry.create_sample_source(source_name, source, context);
  spdlog::info("{}: preparing on {} ({} images, {} classes)", source_name, dataset->name(), dataset->size(),
               dataset->num_classes());

  if (shard) {
    make_shard(*sample_source, settings.output, made_by, count, dataset->num_classes(), *shard);
    if (membership.group) {
      if (wait_for_every_shard(*membership.group)) merge_and_report();
      return;
    }
    std::printf("%s: shard %s in %s; once every shard is made, merge them with `diffmix synthesize %s --merge`\n",
                source_name.c_str(), data::to_string(*shard).c_str(),
                data::shard_folder(settings.output, *shard).c_str(), options.config_path.c_str());
    return;
  }
  // The cache may only hold samples this source makes with these settings: checked (and recorded) before prepare(),
  // which may fine-tune for a long time. The plugin's own writer takes the folder after this one lets it go.
  data::SyntheticCacheWriter(settings.output, ".png", made_by);
  sample_source->prepare();
  spdlog::info("{}: synthesizing {} samples into {}", source_name, count, settings.output);
  sample_source->synthesize(settings.output, count);
  report_cache(settings.output, source_name, dataset->num_classes());
  if (filter) filter_cache(*filter, settings.output, *dataset, settings.device);
}

}  // namespace

void add_synthesize_command(CLI::App& app) {
  auto options = std::make_shared<SynthesizeOptions>();
  auto* cmd = app.add_subcommand("synthesize",
                                 "Fill a synthetic cache with a sample source plugin (resumes an interrupted run)");
  cmd->add_option("config", options->config_path,
                 "TOML config ([data], [synthesis], [synthesis.source], optional [synthesis.filter])")
      ->required();
  cmd->add_option("--output", options->output, "Cache folder (overrides [synthesis] output)");
  cmd->add_option("--shard", options->shard,
                  "Make only shard i of N (i/N, 0 <= i < N) into <output>/shards/i-of-N, e.g. one per host");
  cmd->add_flag("--merge", options->merge, "Merge the finished shards into the cache folder");
  add_check_flag(cmd, options->check);
  add_distributed_options(cmd, options->distributed);
  cmd->callback([options] { run_synthesize(*options); });
}

}  // namespace dmx::cli
