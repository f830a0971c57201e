#include "diffmix/classifier/compare_report.hpp"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/plugin_api.h"
#include "diffmix/version.hpp"
#include "report_assets.hpp"

namespace dmx::classifier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// JSON has no NaN: a value that was not measured is null.
json number(double value) { return std::isnan(value) ? json(nullptr) : json(value); }

void write_text(const std::string& path, std::string_view text) {
  io::write_file_atomic(path, text.data(), text.size());
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// The first run of a variant that finished: where the class names and the data's sizes come from.
const TrainResult* first_finished(const VariantResults& variant) {
  for (const auto& setup : variant.runs)
    for (const auto& run : setup)
      if (run.ok()) return &*run.result;
  return nullptr;
}

json data_json(const VariantResults& variant) {
  const DataSettings& d = variant.compare.base.data;
  json out = {{"kind", d.train.kind},     {"root", d.train.root},           {"shots", d.train.shots},
              {"imbalance", d.train.imbalance}, {"test_kind", d.test.kind}, {"test_root", d.test.root},
              {"image_size", d.image_size}, {"resize", d.resize}};
  if (const TrainResult* run = first_finished(variant))
    out.update({{"classes", run->class_names}, {"train_size", run->train_size}, {"test_size", run->test_size}});
  return out;
}

json test_groups_json(const std::vector<TestGroupAccuracy>& groups) {
  json out = json::array();
  for (const auto& group : groups)
    out.push_back({{"name", group.name}, {"images", group.images}, {"accuracy", number(group.accuracy)}});
  return out;
}

json run_json(const std::string& setup, const RunOutcome& outcome) {
  json out = {{"setup", setup}, {"seed", outcome.seed}, {"output_dir", outcome.output_dir},
              {"status", outcome.ok() ? "ok" : outcome.failed ? "failed" : "missing"}};
  if (!outcome.ok()) {
    out["error"] = outcome.error;
    return out;
  }
  const TrainResult& run = *outcome.result;
  out.update({{"top1", run.top1}, {"mean_per_class", number(run.mean_per_class)}});
  json per_class = json::array();
  for (double value : run.per_class) per_class.push_back(number(value));
  out["per_class"] = per_class;
  if (const EpochMetrics* best = best_evaluated_epoch(run.history))
    out["best"] = {{"epoch", best->epoch}, {"top1", best->top1}};
  json history = json::array();
  for (const auto& epoch : run.history)
    history.push_back({{"epoch", epoch.epoch}, {"train_loss", number(epoch.train_loss)}, {"lr", epoch.lr},
                       {"seconds", epoch.seconds}, {"top1", epoch.evaluated ? json(epoch.top1) : json(nullptr)}});
  out["history"] = history;
  if (!run.shot_groups.empty()) {
    json groups = json::object();
    for (const auto& group : run.shot_groups) groups[data::to_string(group.group)] = number(group.accuracy);
    out["shot_groups"] = groups;
  }
  if (!run.test_groups.empty()) out["test_groups"] = test_groups_json(run.test_groups);
  return out;
}

// Each class's accuracy averaged over the finished runs of one set-up.
json per_class_mean(const std::vector<RunOutcome>& runs) {
  std::vector<double> sum;
  std::vector<int64_t> count;
  for (const auto& run : runs) {
    if (!run.ok()) continue;
    const auto& values = run.result->per_class;
    sum.resize(std::max(sum.size(), values.size()), 0.0);
    count.resize(sum.size(), 0);
    for (size_t k = 0; k < values.size(); ++k)
      if (!std::isnan(values[k])) sum[k] += values[k], ++count[k];
  }
  json out = json::array();
  for (size_t k = 0; k < sum.size(); ++k) out.push_back(count[k] ? json(sum[k] / count[k]) : json(nullptr));
  return out;
}

// What the set-up changes: its batch augmenters (their TOML) and its synthetic data.
json setup_description(const CompareConfig& compare, const CompareSetup& setup) {
  json augment = json::array();
  for (const auto& table : setup.augment) augment.push_back(table.to_toml());
  json out = {{"augment", augment}};
  const TrainConfig run = setup_run_config(compare, setup, compare.seeds.front());
  if (!run.synthetic.cache.empty()) {
    out["synthetic_cache"] = run.synthetic.cache;
    if (run.synthetic.stream) out["sample_source"] = run.synthetic.stream->augmenter;
  }
  return out;
}

json setup_json(const VariantResults& variant, size_t s) {
  const SetupSummary& summary = variant.summaries[s];
  const bool none = summary.top1.empty();
  const bool comparable = !none && !variant.summaries.front().top1.empty();
  json out = {{"name", summary.name},
              {"runs", summary.top1.size()},
              {"planned", summary.planned},
              {"errors", summary.errors},
              {"mean", none ? json(nullptr) : json(summary.mean)},
              {"std", none ? json(nullptr) : json(summary.stddev)},
              {"best_mean", none ? json(nullptr) : json(summary.best_mean)},
              {"best_std", none ? json(nullptr) : json(summary.best_stddev)},
              {"eval_every", summary.eval_every},
              {"delta", comparable ? json(summary.delta) : json(nullptr)},
              {"delta_text", comparable ? difference_text(summary, s == 0) : "—"},
              {"ci_low", number(summary.versus_first.low)},
              {"ci_high", number(summary.versus_first.high)},
              {"excludes_zero", summary.versus_first.excludes_zero()},
              {"curve", {{"epochs", summary.curve_epochs}, {"mean", summary.mean_curve}}},
              {"per_class", per_class_mean(variant.runs[s])},
              {"worst_group", number(summary.worst_group)}};
  out.update(setup_description(variant.compare, variant.compare.setups[s]));
  if (summary.shot_groups.size() == 3)
    out["shot_groups"] = {{"many", number(summary.shot_groups[0])},
                          {"medium", number(summary.shot_groups[1])},
                          {"few", number(summary.shot_groups[2])}};
  if (!summary.test_groups.empty()) out["test_groups"] = test_groups_json(summary.test_groups);
  return out;
}

json plugin_json(const PluginInfo& plugin) {
  json augmenters = json::array();
  for (const auto& augmenter : plugin.augmenters) augmenters.push_back(augmenter.name);
  return {{"name", plugin.name},
          {"version", plugin.version},
          {"abi", std::to_string(plugin.abi_major) + "." + std::to_string(plugin.abi_minor)},
          {"path", plugin.path},
          {"augmenters", augmenters}};
}

json results_json(const ComparisonRecord& record, const std::vector<VariantResults>& variants) {
  json plugins = json::array();
  for (const auto& plugin : record.plugins) plugins.push_back(plugin_json(plugin));
  json out = {{"format", "diffmix-comparison-results/1"},
              {"comparison",
               {{"config_path", record.config_path},
                {"config_text", record.config_text},
                {"working_dir", record.working_dir},
                {"started", record.started}}},
              {"software",
               {{"diffmix", record.diffmix_version},
                {"libtorch", record.libtorch_version},
                {"plugin_abi", record.plugin_abi},
                {"plugins", plugins}}}};
  json variant_list = json::array();
  for (const auto& variant : variants) {
    json setups = json::array(), runs = json::array();
    for (size_t s = 0; s < variant.summaries.size() && s < variant.runs.size(); ++s) {
      setups.push_back(setup_json(variant, s));
      for (const auto& run : variant.runs[s]) runs.push_back(run_json(variant.summaries[s].name, run));
    }
    variant_list.push_back({{"name", variant.compare.variant},
                            {"output", variant.compare.base.output_dir},
                            {"seeds", variant.compare.seeds},
                            {"data", data_json(variant)},
                            {"note", difference_note(variant.summaries)},
                            {"setups", setups},
                            {"runs", runs}});
  }
  out["variants"] = variant_list;
  return out;
}

std::string dump(const json& value, int indent) {
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

// --- synthetic sample tiles ---------------------------------------------------------------------------------------

// An image scaled down (area average) until its longer side is at most `side`. uint8 H×W×C in and out.
at::Tensor thumbnail(const at::Tensor& image, int64_t side) {
  const int64_t height = image.size(0), width = image.size(1);
  if (std::max(height, width) <= side) return image;
  const double scale = static_cast<double>(side) / static_cast<double>(std::max(height, width));
  const int64_t h = std::max<int64_t>(1, std::lround(height * scale));
  const int64_t w = std::max<int64_t>(1, std::lround(width * scale));
  const at::Tensor pooled = at::adaptive_avg_pool2d(image.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat), {h, w});
  return pooled.round().clamp(0, 255).to(at::kByte).squeeze(0).permute({1, 2, 0}).contiguous();
}

// `count` of the classes in `classes`, spread evenly over them (all of them when there are no more).
std::vector<int64_t> spread(const std::vector<int64_t>& classes, int64_t count) {
  if (static_cast<int64_t>(classes.size()) <= count) return classes;
  std::vector<int64_t> picked;
  for (int64_t i = 0; i < count; ++i)
    picked.push_back(classes[static_cast<size_t>(i * static_cast<int64_t>(classes.size()) / count)]);
  return picked;
}

std::string class_name(const std::vector<std::string>& names, int64_t index) {
  return index >= 0 && index < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(index)]
                                                                  : std::to_string(index);
}

// The tiles of one set-up's cache: {"cache", "samples", "tiles": [{file, source, target, strength, label}]}, or
// {"error"} when the cache cannot be read.
json sample_tiles(const std::string& cache_folder, const std::vector<std::string>& class_names,
                  const std::string& report_folder, const std::string& tile_folder, const ReportOptions& options) {
  json out = {{"cache", cache_folder}};
  try {
    const auto cache = data::SyntheticCache::open_any(cache_folder, class_names);
    out["samples"] = cache->size();
    std::vector<int64_t> targets;
    const auto& by_target = cache->indices_by_target();
    for (size_t c = 0; c < by_target.size(); ++c)
      if (!by_target[c].empty()) targets.push_back(static_cast<int64_t>(c));
    json tiles = json::array();
    fs::create_directories(report_folder + "/" + tile_folder);
    for (int64_t target : spread(targets, options.sample_classes)) {
      const auto& indices = by_target[static_cast<size_t>(target)];
      for (size_t k = 0; k < indices.size() && static_cast<int64_t>(k) < options.samples_per_class; ++k) {
        const int64_t index = indices[k];
        const data::SyntheticRecord& record = cache->record(index);
        const std::string file = tile_folder + "/" + std::to_string(target) + "-" + std::to_string(k) + ".png";
        io::write_image(report_folder + "/" + file, thumbnail(cache->load_image(index), options.tile_size));
        const at::Tensor label = cache->soft_label(index).to(at::kFloat).contiguous();
        json soft = json::array();
        for (int64_t c = 0; c < label.numel(); ++c)
          if (const float weight = label[c].item<float>(); weight > 0.005f)
            soft.push_back({{"class", class_name(class_names, c)}, {"weight", weight}});
        tiles.push_back({{"file", file},
                         {"source", class_name(class_names, record.source_class)},
                         {"target", class_name(class_names, record.target_class)},
                         {"strength", record.strength},
                         {"label", soft}});
      }
    }
    out["tiles"] = tiles;
  } catch (const Error& error) {
    spdlog::warn("report: no samples from {}: {}", cache_folder, error.what());
    out["error"] = error.what();
  }
  return out;
}

// Adds "samples" to every set-up of `data` that trains on a synthetic cache.
void add_samples(json& data, const std::vector<VariantResults>& variants, const std::string& report_folder,
                 const ReportOptions& options) {
  for (size_t v = 0; v < variants.size(); ++v) {
    const VariantResults& variant = variants[v];
    const TrainResult* finished = first_finished(variant);
    for (size_t s = 0; s < variant.compare.setups.size(); ++s) {
      json& setup = data["variants"][v]["setups"][s];
      if (!setup.contains("synthetic_cache")) continue;
      if (!finished) {
        setup["samples"] = {{"error", "no run of this variant finished, so its class names are unknown"}};
        continue;
      }
      const std::string tile_folder = "samples/" + (variant.compare.variant.empty() ? "" : variant.compare.variant + "/") +
                                      variant.compare.setups[s].name;
      setup["samples"] = sample_tiles(setup["synthetic_cache"].get<std::string>(), finished->class_names,
                                      report_folder, tile_folder, options);
    }
  }
}

}  // namespace

ComparisonRecord describe_comparison(const std::string& config_path, const PluginRegistry& registry) {
  ComparisonRecord record;
  record.config_path = config_path;
  record.config_text = io::read_text_if_exists(config_path);
  record.working_dir = fs::current_path().string();
  record.started = utc_now();
  record.diffmix_version = DIFFMIX_VERSION_STRING;
  record.libtorch_version = TORCH_VERSION;
  record.plugin_abi = std::to_string(DMX_ABI_VERSION_MAJOR) + "." + std::to_string(DMX_ABI_VERSION_MINOR);
  record.plugins = registry.plugins();
  return record;
}

void write_comparison_record(const std::string& output, const ComparisonRecord& record) {
  json plugins = json::array();
  for (const auto& plugin : record.plugins) plugins.push_back(plugin_json(plugin));
  const json out = {{"config_path", record.config_path}, {"config_text", record.config_text},
                    {"working_dir", record.working_dir}, {"started", record.started},
                    {"diffmix", record.diffmix_version}, {"libtorch", record.libtorch_version},
                    {"plugin_abi", record.plugin_abi},   {"plugins", plugins}};
  fs::create_directories(output);
  write_text(output + "/" + kComparisonRecordFileName, dump(out, 2) + "\n");
}

ComparisonRecord read_comparison_record(const std::string& output) {
  const std::string path = output + "/" + kComparisonRecordFileName;
  const std::string text = io::read_text_if_exists(path);
  if (text.empty())
    throw not_found(path + ": no such file; RUN_DIR must be the output folder of `diffmix compare` (the folder that " +
                    "holds results.csv), run by this version of diffmix");
  try {
    const json in = json::parse(text);
    ComparisonRecord record;
    record.config_path = in.at("config_path").get<std::string>();
    record.config_text = in.at("config_text").get<std::string>();
    record.working_dir = in.at("working_dir").get<std::string>();
    record.started = in.value("started", std::string());
    record.diffmix_version = in.value("diffmix", std::string());
    record.libtorch_version = in.value("libtorch", std::string());
    record.plugin_abi = in.value("plugin_abi", std::string());
    for (const auto& plugin : in.value("plugins", json::array())) {
      PluginInfo info;
      info.name = plugin.at("name").get<std::string>();
      info.version = plugin.at("version").get<std::string>();
      info.path = plugin.at("path").get<std::string>();
      const std::string abi = plugin.at("abi").get<std::string>();
      std::sscanf(abi.c_str(), "%u.%u", &info.abi_major, &info.abi_minor);
      for (const auto& name : plugin.value("augmenters", json::array()))
        info.augmenters.push_back({name.get<std::string>(), "", AugmenterRole::BatchAugmenter});
      record.plugins.push_back(std::move(info));
    }
    return record;
  } catch (const json::exception& error) {
    throw format_error(path + ": not a comparison record: " + error.what());
  }
}

std::string format_matrix_markdown(const std::vector<VariantResults>& variants) {
  if (variants.empty() || variants.front().compare.variant.empty()) return "";
  std::string out = "| set-up |";
  for (const auto& variant : variants) out += " " + variant.compare.variant + " |";
  out += "\n|---|";
  for (size_t v = 0; v < variants.size(); ++v) out += "---|";
  out += "\n";
  for (size_t s = 0; s < variants.front().summaries.size(); ++s) {
    out += "| " + variants.front().summaries[s].name + " |";
    for (const auto& variant : variants) {
      const SetupSummary& summary = variant.summaries[s];
      char cell[64];
      if (summary.top1.empty()) std::snprintf(cell, sizeof(cell), "failed");
      else std::snprintf(cell, sizeof(cell), "%.2f ± %.2f", summary.mean * 100.0, summary.stddev * 100.0);
      out += std::string(" ") + cell + " |";
    }
    out += "\n";
  }
  return out;
}

void write_results_json(const std::string& output, const ComparisonRecord& record,
                        const std::vector<VariantResults>& variants) {
  fs::create_directories(output);
  write_text(output + "/results.json", dump(results_json(record, variants), 2) + "\n");
}

std::string write_report(const std::string& output, const ComparisonRecord& record,
                         const std::vector<VariantResults>& variants, const ReportOptions& options) {
  const std::string folder = output + "/report";
  fs::remove_all(folder + "/samples");  // tiles of an earlier report may belong to set-ups that are gone
  fs::create_directories(folder);
  json data = results_json(record, variants);
  add_samples(data, variants, folder, options);
  write_text(folder + "/data.js", "window.DIFFMIX_REPORT = " + dump(data, -1) + ";\n");
  write_text(folder + "/report.js", report_assets::report_js);
  write_text(folder + "/report.css", report_assets::report_css);
  write_text(folder + "/chart.min.js", report_assets::chart_js);
  write_text(folder + "/LICENSE.chart.js.txt", report_assets::chart_js_license);
  write_text(folder + "/index.html", report_assets::index_html);
  return folder + "/index.html";
}

}  // namespace dmx::classifier
