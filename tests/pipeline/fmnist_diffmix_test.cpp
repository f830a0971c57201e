// configs/fmnist_diffmix.toml, the Diff-Mix pipeline README's first command runs: the config is valid as shipped
// (every set-up, every source key), and the same config with smaller budgets runs end to end through `diffmix
// compare` on the shipped base model — fine-tuning, streamed synthesis, training, the table, the report and its
// sample grids — and a second run skips every stage.
#include <algorithm>
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/run_cli.hpp"
#include "diffmix/classifier/compare.hpp"
#include "diffmix/config.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/registry.hpp"
#include "diffmix/sample_source.hpp"
#include "diffmix/classifier/trainer.hpp"

namespace dmx::test {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kSetups = {"none",     "cutmix",    "mixup",    "real_gen",
                                          "real_aug", "real_mix",  "da_fusion", "diff_gen",
                                          "diff_aug", "diff_mix",  "diff_mix+cutmix"};
const std::vector<std::string> kGenerative = {"real_gen", "real_aug", "real_mix",        "da_fusion",
                                              "diff_gen", "diff_aug", "diff_mix", "diff_mix+cutmix"};
const std::string kRunPrefix = "runs/fmnist_diffmix";

std::string config_path() { return source_dir() + "/configs/fmnist_diffmix.toml"; }
std::string shipped_model() { return source_dir() + "/models/fmnist-sd"; }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// What a comparison printed: its own output and, when its runs went to worker processes, every run's run.log.
std::string output_and_run_logs(const std::string& output, const std::string& run) {
  std::string text = output;
  for (const auto& setup : kSetups) text += read_text(run + "/" + setup + "/seed-0/run.log");
  return text;
}

class FmnistDiffmixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(std::string(data::kFashionMnistDefaultRoot) + "/train-images-idx3-ubyte.gz"))
      GTEST_SKIP() << "Fashion-MNIST is not installed (apt install dataset-fashion-mnist)";
    ASSERT_TRUE(fs::exists(shipped_model() + "/model_index.json")) << shipped_model();
  }
};

// The shipped config parses, names the eleven set-ups of the comparison, and every streamed source passes its
// plugin's schema.
TEST_F(FmnistDiffmixTest, ConfigNamesEverySetupAndEverySourceIsValid) {
  const auto document = config::Document::parse_file(config_path());
  const auto root = document.root();
  const auto compare = classifier::read_compare_config(root);
  root.finish();
  ASSERT_EQ(compare.setups.size(), kSetups.size());
  for (size_t s = 0; s < kSetups.size(); ++s) EXPECT_EQ(compare.setups[s].name, kSetups[s]);
  EXPECT_GE(compare.seeds.size(), 2u);

  PluginRegistry registry;
  const auto dataset = data::open_dataset(compare.base.data.train);
  EXPECT_EQ(dataset->size(), 500);  // 50 images per class
  size_t streamed = 0;
  for (const auto& setup : compare.setups) {
    if (!setup.synthetic || !setup.synthetic->stream) continue;
    ++streamed;
    const auto run = classifier::setup_run_config(compare, setup, compare.seeds.front());
    EXPECT_NO_THROW(classifier::create_stream_source(run, dataset, registry)) << setup.name;
    EXPECT_TRUE(setup.synthetic->stream->synchronous) << setup.name << ": the table must be reproducible";
  }
  EXPECT_EQ(streamed, kGenerative.size());
}

// --- the reduced run ----------------------------------------------------------------------------------------------

// Replaces the leading "runs/fmnist_diffmix" of a path value by `run`; the path must start with it.
void move_path(toml::table& table, const std::string& key, const std::string& run) {
  auto* value = table.get_as<std::string>(key);
  ASSERT_NE(value, nullptr) << key;
  const std::string path = value->get();
  ASSERT_EQ(path.rfind(kRunPrefix, 0), 0u) << key << " = " << path;
  table.insert_or_assign(key, run + path.substr(kRunPrefix.size()));
}

// The shipped config with every budget cut down and every output moved under `run`; everything else (set-ups,
// sources, strengths, fine-tuning strategies, the model) is as shipped.
std::string reduced_config(const std::string& run) {
  toml::table config = toml::parse_file(config_path());
  EXPECT_EQ(config["output"].value_or(std::string()), kRunPrefix);
  config.insert_or_assign("output", run);
  config["data"].as_table()->insert_or_assign("shots", 5);
  config["data"].as_table()->insert_or_assign("test_per_class", 10);
  config["train"].as_table()->insert_or_assign("epochs", 2);
  config["train"].as_table()->insert_or_assign("eval_every", 1);
  config["compare"].as_table()->insert_or_assign("seeds", toml::array{0});
  for (auto& node : *config["compare"]["setup"].as_array()) {
    auto& setup = *node.as_table();
    auto* synthetic = setup["synthetic"].as_table();
    if (!synthetic) continue;
    move_path(*synthetic, "cache", run);
    synthetic->erase("multiplier");
    synthetic->insert_or_assign("count", 20);
    auto& source = *(*synthetic)["source"].as_table();
    EXPECT_EQ(source["model"].value_or(std::string()), "models/fmnist-sd");
    source.insert_or_assign("model", shipped_model());
    source.insert_or_assign("steps", 4);
    source.insert_or_assign("batch_size", 10);
    if (!source.contains("finetuned")) continue;
    move_path(source, "finetuned", run);
    auto& finetune = *source["finetune"].as_table();
    // 1/500 of the shipped steps (ti 2, ti+db 8): the longer fine-tuning stays the longer one.
    finetune.insert_or_assign("steps", std::max<int64_t>(1, finetune["steps"].value_or(int64_t{0}) / 500));
    finetune.insert_or_assign("batch_size", 8);
    finetune.insert_or_assign("checkpoint_every", 2);
  }
  std::ostringstream text;
  text << config;
  return text.str();
}

TEST_F(FmnistDiffmixTest, ReducedPipelineRunsEveryStageAndASecondRunSkipsThemAll) {
  const fs::path folder = fs::temp_directory_path() / ("dmx_fmnist_diffmix_" + std::to_string(::getpid()));
  fs::remove_all(folder);
  fs::create_directories(folder);
  const std::string run = (folder / "run").string();
  std::ofstream(folder / "reduced.toml") << reduced_config(run);

  // The shipped config runs two runs at a time in worker processes.
  const CliRun first = run_cli("compare " + (folder / "reduced.toml").string());
  ASSERT_EQ(first.exit_code, 0) << output_and_run_logs(first.output, run);
  EXPECT_NE(first.output.find("[compare] 11 runs, 2 at a time"), std::string::npos) << first.output;
  const std::string logs = output_and_run_logs(first.output, run);

  // Fine-tuning: each fine-tuned model is made once and shared by the set-ups that need it (a run that finds it
  // being made waits for it).
  EXPECT_EQ(occurrences(logs, "fine-tuning ti+db for 8 steps"), 1u) << logs;
  EXPECT_EQ(occurrences(logs, "fine-tuning ti for 2 steps"), 1u) << logs;
  // The run with the longest fine-tuning starts first, so that the other runs go beside it rather than after it.
  EXPECT_EQ(first.output.find("[compare] started "), first.output.find("[compare] started diff_gen seed 0"))
      << first.output;
  EXPECT_TRUE(fs::exists(run + "/finetune-ti_db/finetune_manifest.json"));
  EXPECT_TRUE(fs::exists(run + "/finetune-ti/finetune_manifest.json"));
  // Synthesis: 20 samples in each augmenter's cache; diff_mix+cutmix trains on diff_mix's.
  for (const std::string augmenter : {"real_gen", "real_aug", "real_mix", "da_fusion", "diff_gen", "diff_aug",
                                      "diff_mix"})
    EXPECT_EQ(count_lines(run + "/cache/" + augmenter + "/seed-0/manifest.jsonl"), 20u) << augmenter;
  // The table, printed and in summary.md, and the report with sample tiles for every generative set-up.
  const std::string table = read_text(run + "/summary.md");
  for (const auto& name : kSetups) {
    EXPECT_NE(first.output.find("\n" + name + " "), std::string::npos) << name << "\n" << first.output;
    EXPECT_NE(table.find("| " + name + " |"), std::string::npos) << name << "\n" << table;
  }
  const std::string report = read_text(run + "/report/data.js");
  for (const auto& name : kGenerative) {
    EXPECT_TRUE(fs::exists(run + "/report/samples/" + name + "/0-0.png")) << name;
    EXPECT_NE(report.find("\"samples/" + name + "/0-0.png\""), std::string::npos) << name;
  }

  // Everything is complete: the second run (in one process, so that its output shows all) fine-tunes nothing,
  // streams nothing and prints the same table.
  const CliRun second = run_cli("compare --jobs 1 " + (folder / "reduced.toml").string());
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.output.find("fine-tuning"), std::string::npos) << second.output;
  EXPECT_EQ(second.output.find("stream "), std::string::npos) << second.output;
  EXPECT_EQ(read_text(run + "/summary.md"), table);
  fs::remove_all(folder);
}

}  // namespace
}  // namespace dmx::test
