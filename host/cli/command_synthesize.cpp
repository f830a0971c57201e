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
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "config_check.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/dataset_config.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/diffusion/cache_filter.hpp"
#include "diffmix/diffusion/clip_filter.hpp"
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

  const data::DatasetPtr dataset = data::open_dataset(spec);
  const int64_t count = settings.count ? *settings.count
                                       : std::max<int64_t>(1, std::llround(*settings.multiplier *
                                                                           static_cast<double>(dataset->size())));
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
  // The cache may only hold samples this source makes with these settings: checked (and recorded) before prepare(),
  // which may fine-tune for a long time. The plugin's own writer takes the folder after this one lets it go.
  data::SyntheticCacheWriter(settings.output, ".png", sample_source_record(source, settings.seed));
  sample_source->prepare();
  spdlog::info("{}: synthesizing {} samples into {}", source_name, count, settings.output);
  sample_source->synthesize(settings.output, count);

  const auto cache = data::SyntheticCache::open(settings.output, dataset->num_classes());
  std::printf("%lld samples by %s in %s (%s)\n", static_cast<long long>(cache->size()), source_name.c_str(),
              cache->folder().c_str(), data::kManifestFileName);
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
  add_check_flag(cmd, options->check);
  cmd->callback([options] { run_synthesize(*options); });
}

}  // namespace dmx::cli
