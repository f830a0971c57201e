// `diffmix grid`: PNG contact sheets of synthetic images, for people to look at.
//
//   diffmix grid --cache DIR --out grid.png [--config CONFIG] [--per-class 8] [--classes a,b] [--tile 128]
//       one row per target class of a synthetic cache; each tile captioned "source>target s=strength". A cache
//       knows class indices only: --config names a config whose [data] table gives the class names.
//   diffmix grid CONFIG --reference I --target C [--strengths 0.1,0.3,0.5,0.7,0.9] --out fig4.png
//       like Fig. 4 of the Diff-Mix paper: training image I (CONFIG's [data]) translated toward class C at each
//       strength by the pipeline of CONFIG's [synthesis.source], the reference first, each tile captioned with its
//       strength and soft label.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/dataset_config.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/diffusion/source_settings.hpp"
#include "diffmix/diffusion/synthesis_pipeline.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/progress.hpp"
#include "diffmix/report/cache_sheet.hpp"
#include "diffmix/report/image_grid.hpp"

namespace dmx::cli {
namespace {

namespace fs = std::filesystem;

struct GridOptions {
  std::string config_path;
  std::string cache;
  std::string out;
  int64_t per_class = 8;
  std::string classes;  // comma-separated names or indices
  int64_t tile = 128;
  int64_t reference = -1;
  std::string target;
  std::string strengths = "0.1,0.3,0.5,0.7,0.9";
  std::string device;           // empty: [synthesis] device
  uint64_t seed = 0;             // when seed_given; else [synthesis.source] seed, else [synthesis] seed
  bool reference_given = false;
  bool seed_given = false;
};

// ---- small text helpers ------------------------------------------------------------------------------------------

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::string format_weight(double weight) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", weight);
  return buffer;
}

bool is_index(const std::string& text) {
  return !text.empty() && text.size() < 12 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// Class names match with '_' and ' ' taken as the same, as the authors' meta.csv files spell them either way.
std::string normalized_name(std::string name) {
  std::replace(name.begin(), name.end(), '_', ' ');
  return name;
}

// A class given by name (when names are known) or by index. `what` names the option for the message.
int64_t resolve_class(const std::string& token, const std::vector<std::string>& names, int64_t num_classes,
                      const std::string& what) {
  for (size_t c = 0; c < names.size(); ++c)
    if (normalized_name(names[c]) == normalized_name(token)) return static_cast<int64_t>(c);
  if (is_index(token)) {
    const int64_t index = std::stoll(token);
    if (index < num_classes) return index;
    throw invalid_argument("grid: " + what + " class index " + token + " outside [0, " +
                           std::to_string(num_classes) + ")");
  }
  if (names.empty())
    throw invalid_argument("grid: " + what + " '" + token + "' is not a class index (0 to " +
                           std::to_string(num_classes - 1) + "); give --config to name classes");
  const auto suggestion = config::nearest_name(token, names);
  throw invalid_argument("grid: " + what + " '" + token + "' is not a class of the dataset" +
                         (suggestion ? "; did you mean '" + *suggestion + "'?" : std::string()));
}

// ---- the dataset and the cache -----------------------------------------------------------------------------------

// The training set of a config's [data] table. Only [data] is read: the config may be a `synthesize` or `train`
// config whose other tables belong to those commands, so no key check is made here beyond what the reader does.
data::DatasetPtr open_config_dataset(const config::Table& root, const std::string& config_path) {
  const auto table = root.table("data");
  if (!table) throw config_error(config_path + ": missing table [data] (the training set: kind, root, ...)");
  return data::open_dataset(data::read_dataset_spec(*table));
}

// Without class names a manifest.jsonl cache is opened with as many classes as its lines mention; lines that do not
// parse are left for SyntheticCache::open to report with their line numbers.
int64_t classes_mentioned(const std::string& manifest_path) {
  std::stringstream lines(io::read_text_if_exists(manifest_path));
  int64_t count = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object()) continue;
    for (const char* key : {"source_class", "target_class"})
      if (record.contains(key) && record[key].is_number_integer()) count = std::max(count, record[key].get<int64_t>() + 1);
    if (record.contains("soft_label") && record["soft_label"].is_array())
      count = std::max(count, static_cast<int64_t>(record["soft_label"].size()));
  }
  return count;
}

std::shared_ptr<data::SyntheticCache> open_cache(const std::string& folder, const std::vector<std::string>& names) {
  if (!fs::is_directory(folder)) throw not_found("grid: cache folder '" + folder + "' does not exist");
  if (!names.empty()) return data::SyntheticCache::open_any(folder, names);
  const std::string manifest = folder + "/" + data::kManifestFileName;
  if (fs::exists(manifest)) {
    const int64_t num_classes = classes_mentioned(manifest);
    if (num_classes == 0) {
      data::SyntheticCache::open(folder, 1);  // reports a malformed line with its number, if there is one
      throw format_error(manifest + ": no samples (an empty synthetic cache)");
    }
    return data::SyntheticCache::open(folder, num_classes);
  }
  if (fs::exists(folder + "/meta.csv"))
    throw invalid_argument("grid: " + folder + "/meta.csv names classes by name; give --config CONFIG whose [data] "
                           "is the dataset the cache was made from");
  throw not_found("grid: " + folder + ": no " + data::kManifestFileName + " or meta.csv (not a synthetic cache)");
}

// ---- mode 1: a cache's samples, one row per target class ---------------------------------------------------------

// --classes as indices; empty: every class with samples (report::cache_sheet's default).
std::vector<int64_t> rows_to_show(const GridOptions& options, const data::SyntheticCache& cache,
                                  const std::vector<std::string>& names) {
  std::vector<int64_t> classes;
  for (const std::string& token : split_list(options.classes))
    classes.push_back(resolve_class(token, names, cache.num_classes(), "--classes"));
  return classes;
}

// Draws the sheet with cells of `tile` pixels and writes it as a PNG; returns the image.
at::Tensor write_sheet(const report::ContactSheet& sheet, int64_t tile, const std::string& out) {
  report::GridStyle style;
  style.cell = tile;
  const at::Tensor image = report::compose_grid(sheet, style);
  io::write_image(out, image);
  return image;
}

void run_cache_grid(const GridOptions& options) {
  std::vector<std::string> names;
  if (!options.config_path.empty()) {
    const auto document = config::Document::parse_file(options.config_path);
    names = open_config_dataset(document.root(), options.config_path)->class_names();
  }
  const auto cache = open_cache(options.cache, names);
  const auto sheet = report::cache_sheet(*cache, names, rows_to_show(options, *cache, names), options.per_class);
  const at::Tensor image = write_sheet(sheet, options.tile, options.out);
  std::printf("%s: %lld × %lld px, %zu rows (one per target class) of up to %lld samples from %s\n",
              options.out.c_str(), static_cast<long long>(image.size(1)), static_cast<long long>(image.size(0)),
              sheet.rows.size(), static_cast<long long>(options.per_class), cache->folder().c_str());
}

// ---- mode 2: one training image across strengths (Fig. 4) --------------------------------------------------------

struct StrengthSweep {
  diffusion::SourceSettings settings;
  std::string augmenter;
  uint64_t seed = 0;
};

// [synthesis.source] as `diffmix synthesize` reads it, with [synthesis] device and seed as defaults.
StrengthSweep read_sweep(const config::Table& root, const GridOptions& options) {
  const auto synthesis = root.table("synthesis");
  if (!synthesis) throw config_error(options.config_path + ": missing table [synthesis] (with [synthesis.source])");
  const auto source = synthesis->table("source");
  if (!source)
    throw config_error(synthesis->source() + ": missing table [synthesis.source] (augmenter = \"<name>\", model, ...)");
  const std::string device = options.device.empty() ? synthesis->string("device", "cpu") : options.device;
  const uint64_t run_seed = static_cast<uint64_t>(synthesis->integer("seed", 0, {0, 9.2e18}));
  StrengthSweep sweep;
  sweep.augmenter = source->required_string("augmenter", diffusion::diffusion_augmenter_names());
  sweep.settings = diffusion::read_source_settings(*source, sweep.augmenter, device);
  source->finish();
  sweep.seed = options.seed_given ? options.seed : sweep.settings.seed.value_or(run_seed);
  if (!sweep.settings.strategy.uses_reference_image())
    throw invalid_argument("grid: '" + sweep.augmenter + "' generates from text alone; a strength grid needs an "
                           "image-to-image augmenter (real_aug, real_mix, da_fusion, diff_aug, diff_mix)");
  return sweep;
}

std::vector<double> parse_strengths(const std::string& text) {
  std::vector<double> strengths;
  for (const std::string& item : split_list(text)) {
    size_t used = 0;
    double value = -1;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || !(value > 0.0 && value <= 1.0))
      throw invalid_argument("grid: --strengths value '" + item + "' is not a number in (0, 1]");
    strengths.push_back(value);
  }
  if (strengths.empty()) throw invalid_argument("grid: --strengths '" + text + "' lists no strength");
  return strengths;
}

// "s=0.5\ny: 0.29 c3 + 0.71 c7": the strength and the two non-zero entries of the soft label.
std::string soft_label_caption(const diffusion::SynthesisJob& job) {
  const auto* y = job.soft_label.data_ptr<float>();
  std::string caption = "s=" + report::strength_text(job.strength) + "\ny: ";
  if (job.source_class == job.target_class) return caption + "1.00 c" + std::to_string(job.target_class);
  return caption + format_weight(y[job.source_class]) + " c" + std::to_string(job.source_class) + " + " +
         format_weight(y[job.target_class]) + " c" + std::to_string(job.target_class);
}

std::vector<diffusion::SynthesisJob> sweep_jobs(const data::Dataset& dataset, int64_t reference, int64_t target,
                                                const std::vector<double>& strengths, const StrengthSweep& sweep) {
  std::vector<diffusion::SynthesisJob> jobs;
  for (size_t k = 0; k < strengths.size(); ++k) {
    diffusion::SynthesisJob job;
    job.index = static_cast<int64_t>(k);
    job.source_class = dataset.label(reference);
    job.reference_image = reference;
    job.target_class = target;
    job.strength = strengths[k];
    job.seed = sweep.seed;  // one noise for every tile, so that only the strength differs between them
    job.soft_label = data::diffmix_soft_label(job.source_class, target, job.strength, dataset.num_classes(),
                                              sweep.settings.gamma);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

std::vector<at::Tensor> generate_with_progress(const diffusion::SynthesisPipeline& pipeline,
                                               const std::vector<diffusion::SynthesisJob>& jobs,
                                               const std::vector<at::Tensor>& references) {
  uint64_t total_steps = 0;
  for (const auto& job : jobs)
    total_steps += static_cast<uint64_t>(static_cast<double>(pipeline.options().steps) * job.strength);
  Progress progress("grid: denoising", std::max<uint64_t>(total_steps, 1), "step");
  auto images = pipeline.generate(jobs, references, [&progress](const sd::DenoisingStep&) { progress.advance(); });
  progress.finish();
  return images;
}

void run_strength_grid(const GridOptions& options) {
  const auto document = config::Document::parse_file(options.config_path);
  const auto root = document.root();
  const data::DatasetPtr dataset = open_config_dataset(root, options.config_path);
  const StrengthSweep sweep = read_sweep(root, options);
  if (options.reference < 0 || options.reference >= dataset->size())
    throw invalid_argument("grid: --reference " + std::to_string(options.reference) + " is outside the training set " +
                           dataset->name() + " (images 0 to " + std::to_string(dataset->size() - 1) + ")");
  const int64_t target = resolve_class(options.target, dataset->class_names(), dataset->num_classes(), "--target");
  const std::vector<double> strengths = parse_strengths(options.strengths);

  const auto jobs = sweep_jobs(*dataset, options.reference, target, strengths, sweep);
  const at::Tensor reference = dataset->load_image(options.reference);
  spdlog::info("grid: loading the {} pipeline from {}", sweep.augmenter, sweep.settings.pipeline.model);
  const auto pipeline = diffusion::SynthesisPipeline::load(sweep.settings.strategy, sweep.settings.pipeline,
                                                           dataset->class_names(), dataset->metaclass());
  const auto images = generate_with_progress(pipeline, jobs, std::vector<at::Tensor>(jobs.size(), reference));

  const int64_t source = dataset->label(options.reference);
  const auto& names = dataset->class_names();
  report::ContactSheet sheet;
  sheet.title = sweep.augmenter + ": " + names[static_cast<size_t>(source)] + " > " +
                names[static_cast<size_t>(target)];
  report::GridRow row;
  row.tiles.push_back({reference, "reference #" + std::to_string(options.reference) + "\nc" + std::to_string(source)});
  for (size_t k = 0; k < jobs.size(); ++k) row.tiles.push_back({images[k], soft_label_caption(jobs[k])});
  sheet.rows.push_back(std::move(row));
  const at::Tensor image = write_sheet(sheet, options.tile, options.out);
  std::printf("%s: %lld × %lld px, reference %lld (class %lld) and %zu strengths toward class %lld, seed %llu\n",
              options.out.c_str(), static_cast<long long>(image.size(1)), static_cast<long long>(image.size(0)),
              static_cast<long long>(options.reference), static_cast<long long>(source), jobs.size(),
              static_cast<long long>(target), static_cast<unsigned long long>(sweep.seed));
}

void run_grid(const GridOptions& options) {
  if (!options.cache.empty()) {
    if (options.reference_given || !options.target.empty())
      throw invalid_argument("grid: --reference and --target belong to the strength grid (CONFIG --reference I "
                             "--target C), not to --cache");
    run_cache_grid(options);
    return;
  }
  if (options.config_path.empty() || !options.reference_given || options.target.empty())
    throw invalid_argument("grid: give --cache DIR (a cache's samples) or CONFIG --reference I --target C (one "
                           "training image across strengths); see diffmix grid --help");
  run_strength_grid(options);
}

}  // namespace

void add_grid_command(CLI::App& app) {
  auto options = std::make_shared<GridOptions>();
  auto* cmd = app.add_subcommand("grid", "Write a PNG contact sheet of a synthetic cache, or of one training image "
                                         "translated at several strengths (the paper's Fig. 4)");
  cmd->footer(
      "Examples:\n"
      "  diffmix grid --cache cache/diff-mix --config synth.toml --per-class 6 --out grid.png\n"
      "      one row per target class; tiles captioned source>target and strength (\"3>7 s=0.7\")\n"
      "  diffmix grid synth.toml --reference 12 --target 7 --out fig4.png\n"
      "      training image 12 translated toward class 7 by [synthesis.source]'s pipeline at each strength,\n"
      "      reference first; tiles captioned with s and the soft label (\"s=0.5 y: 0.29 c3 + 0.71 c7\")");
  cmd->add_option("config", options->config_path,
                  "TOML config: its [data] names the classes (with --cache) or is the training set, and its "
                  "[synthesis.source] the pipeline (strength grid)");
  cmd->add_option("--config", options->config_path, "Same as the positional CONFIG");
  cmd->add_option("--cache", options->cache, "Synthetic cache folder (manifest.jsonl or the authors' meta.csv)");
  cmd->add_option("--out", options->out, "Output image (.png, or .jpg)")->required();
  cmd->add_option("--per-class", options->per_class, "Samples per target class (--cache)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  cmd->add_option("--classes", options->classes, "Comma-separated class names or indices to show (--cache; default: "
                                                 "every class with samples)");
  cmd->add_option("--tile", options->tile, "Cell size in pixels")->check(CLI::Range(int64_t{8}, int64_t{2048}));
  auto* reference = cmd->add_option("--reference", options->reference, "Training image index (strength grid)");
  cmd->add_option("--target", options->target, "Target class, by name or index (strength grid)");
  cmd->add_option("--strengths", options->strengths, "Comma-separated SDEdit strengths in (0, 1]")
      ->capture_default_str();
  cmd->add_option("--device", options->device, "cpu, cuda or cuda:N (default: [synthesis] device)");
  auto* seed = cmd->add_option("--seed", options->seed, "Noise seed shared by every tile (default: the config's seed)");
  cmd->callback([options, reference, seed] {
    options->reference_given = reference->count() > 0;
    options->seed_given = seed->count() > 0;
    run_grid(*options);
  });
}

}  // namespace dmx::cli
