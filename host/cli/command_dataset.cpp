// `diffmix dataset CONFIG`: what a config's [data] yields, before anything trains on it. For each split (a training
// config's train and test sets, or the one split of a `finetune` / `synthesize` config): the classes, the images per
// class with each class's Many / Medium / Few group, and the problems a run would stop at. The dataset is opened with
// every image decoded and bad entries left out, so that all problems are found in one pass, not just the first.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "diffmix/classifier/train_config.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/dataset_config.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/shot_groups.hpp"
#include "diffmix/error.hpp"

namespace dmx::cli {
namespace {

constexpr size_t kProblemsShown = 10;
constexpr size_t kProblemsKept = 1000;

struct Split {
  std::string title;  // "train", "test", or the split's name
  data::DatasetSpec spec;
};

// A config with [data] split is a `finetune` / `synthesize` config (one split); otherwise a training config.
std::vector<Split> splits_of(const config::Document& document, const std::string& path) {
  const auto root = document.root();
  const auto table = root.table("data");
  if (!table) throw config_error(path + ": no [data] table");
  if (table->has("split")) {
    const auto spec = data::read_dataset_spec(*table);
    table->finish();
    return {{spec.split, spec}};
  }
  const auto config = classifier::read_train_config(root);
  return {{"train", config.data.train}, {"test", config.data.test}};
}

// Opens the split with every image decoded and bad entries skipped; the skip warnings are its problems.
std::pair<data::DatasetPtr, std::vector<std::string>> open_collecting_problems(data::DatasetSpec spec) {
  spec.skip_bad_entries = true;
  spec.verify_images = true;
  auto collector = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(kProblemsKept);
  collector->set_pattern("%v");
  collector->set_level(spdlog::level::warn);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("dataset", collector));
  data::DatasetPtr dataset;
  try {
    dataset = data::open_dataset(spec);
  } catch (...) {
    spdlog::set_default_logger(previous);
    throw;
  }
  spdlog::set_default_logger(previous);
  return {dataset, collector->last_formatted()};
}

void print_split(const Split& split) {
  const auto [dataset, problems] = open_collecting_problems(split.spec);
  const auto& names = dataset->class_names();
  std::vector<int64_t> counts(names.size(), 0);
  for (int64_t i = 0; i < dataset->size(); ++i) ++counts[static_cast<size_t>(dataset->label(i))];

  std::printf("%s: %s\n  %zu classes, %lld images, metaclass \"%s\"\n", split.title.c_str(), dataset->name().c_str(),
              names.size(), static_cast<long long>(dataset->size()), dataset->metaclass().c_str());
  const auto thresholds = data::paper_shot_thresholds(split.spec.kind);
  std::map<data::ShotGroup, std::pair<int64_t, int64_t>> groups;  // classes, images
  std::printf("  %-40s %8s  %s\n", "class", "images", "group");
  for (size_t c = 0; c < names.size(); ++c) {
    const auto group = data::shot_group(counts[c], thresholds);
    groups[group].first += 1;
    groups[group].second += counts[c];
    std::printf("  %-40s %8lld  %s\n", names[c].c_str(), static_cast<long long>(counts[c]), data::to_string(group));
  }
  std::printf("  Many (> %lld images): %lld classes, %lld images; Medium: %lld classes, %lld images; "
              "Few (< %lld): %lld classes, %lld images\n",
              static_cast<long long>(thresholds.many), static_cast<long long>(groups[data::ShotGroup::Many].first),
              static_cast<long long>(groups[data::ShotGroup::Many].second),
              static_cast<long long>(groups[data::ShotGroup::Medium].first),
              static_cast<long long>(groups[data::ShotGroup::Medium].second), static_cast<long long>(thresholds.few),
              static_cast<long long>(groups[data::ShotGroup::Few].first),
              static_cast<long long>(groups[data::ShotGroup::Few].second));
  if (problems.empty()) {
    std::printf("  no problems: every entry is well formed and every image decodes\n");
    return;
  }
  std::printf("  problems: %zu%s (left out above; a run with skip_bad_entries = false stops at the first)\n",
              problems.size(), problems.size() >= kProblemsKept ? "+" : "");
  for (size_t i = 0; i < problems.size() && i < kProblemsShown; ++i) {
    std::string line = problems[i];
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    std::printf("    %s\n", line.c_str());
  }
}

void run_dataset(const std::string& config_path) {
  const auto document = config::Document::parse_file(config_path);
  for (const auto& split : splits_of(document, config_path)) print_split(split);
}

}  // namespace

void add_dataset_command(CLI::App& app) {
  auto config_path = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("dataset", "Show what a config's [data] yields: classes, images per class, "
                                            "Many/Medium/Few, problems");
  cmd->add_option("config", *config_path, "TOML config with a [data] table (train, compare, finetune, synthesize)")
      ->required();
  cmd->callback([config_path] { run_dataset(*config_path); });
}

}  // namespace dmx::cli
