// The comparison's results and report as a user gets them from `diffmix compare` and `diffmix report`: a failed
// set-up shown as failed, every set-up and run in results.json and in the report, a resumed comparison that reruns
// nothing, the report rebuilt without training, the matrix over data variants, and the page checked in a real
// browser (headless Chromium).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "common/run_cli.hpp"
#include "common/test_files.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/synthetic_cache.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Command = dmx::test::CliRun;

Command run(const std::string& arguments) { return dmx::test::run_cli(arguments); }

std::string fresh_folder(const std::string& name) { return dmx::test::fresh_folder("dmx_report_test", name); }
using dmx::test::read_text;
void write(const std::string& path, const std::string& text) { dmx::test::write_text(path, text); }

// The JSON object a report's data.js assigns to window.DIFFMIX_REPORT.
json report_data(const std::string& report_folder) {
  std::string text = read_text(report_folder + "/data.js");
  const size_t start = text.find('{');
  const size_t end = text.rfind('}');
  if (start == std::string::npos || end == std::string::npos) return json();
  return json::parse(text.substr(start, end - start + 1));
}

std::string tiny_config(const std::string& output) {
  return "output = \"" + output + "\"\n"
         "[data]\nshots = 5\ntest_per_class = 5\ncrop_padding = 2\nmean = [0.286]\nstd = [0.353]\n"
         "[train]\nepochs = 2\nbatch_size = 10\nlr = 0.05\nthreads = 1\n";
}

// A synthetic cache of 28×28 gray images: for each class, two samples translated into it from the next class.
void write_cache(const std::string& folder) {
  dmx::data::SyntheticCacheWriter writer(folder);
  auto generator = at::detail::createCPUGenerator(5);
  for (int64_t target = 0; target < 10; ++target)
    for (int k = 0; k < 2; ++k) {
      const at::Tensor image =
          (at::full({28, 28, 1}, 40.0 + 20.0 * target) + at::randn({28, 28, 1}, generator) * 10.0).clamp(0, 255);
      writer.add(image.to(at::kByte), {"", (target + 1) % 10, target, k == 0 ? 0.5 : 0.9, 0, {}});
    }
}

// When every file of the runs was last written: a rerun that trains nothing leaves them all alone.
std::map<std::string, fs::file_time_type> run_files(const std::string& output) {
  std::map<std::string, fs::file_time_type> times;
  for (const auto& entry : fs::recursive_directory_iterator(output)) {
    const std::string name = entry.path().filename().string();
    if (name == "model.safetensors" || name == "checkpoint.safetensors" || name == "metrics.jsonl")
      times[entry.path().string()] = entry.last_write_time();
  }
  return times;
}

// One comparison made once for the tests below: none, cutmix, a set-up trained on a synthetic cache, and one whose
// cache does not exist (every run of it fails) × seeds 0 and 1.
class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(std::string(dmx::data::kFashionMnistDefaultRoot) + "/train-images-idx3-ubyte.gz")) return;
    folder_ = fresh_folder("compare");
    write_cache(folder_ + "/cache");
    write(folder_ + "/compare.toml",
          tiny_config(folder_ + "/out") +
              "[compare]\nseeds = [0, 1]\n"
              "[[compare.setup]]\nname = \"none\"\n"
              "[[compare.setup]]\nname = \"cutmix\"\n"
              "augment = [{ augmenter = \"cutmix\", alpha = 1.0, prob = 0.5 }]\n"
              "[[compare.setup]]\nname = \"generated\"\n"
              "synthetic = { cache = \"" + folder_ + "/cache\", probability = 0.3 }\n"
              "[[compare.setup]]\nname = \"broken\"\n"
              "synthetic = { cache = \"" + folder_ + "/no-such-cache\" }\n");
    first_ = new Command(run("compare " + folder_ + "/compare.toml"));
  }
  static void TearDownTestSuite() { delete first_; }

  void SetUp() override {
    if (!first_) GTEST_SKIP() << "Fashion-MNIST is not installed (apt install dataset-fashion-mnist)";
  }

  static std::string folder_;
  static Command* first_;
};
std::string ReportTest::folder_;
Command* ReportTest::first_ = nullptr;

TEST_F(ReportTest, AFailedSetupIsShownAsFailedWithItsError) {
  // The comparison ends with an error naming the failure, after the other set-ups ran and the report was written.
  EXPECT_NE(first_->exit_code, 0) << first_->output;
  EXPECT_NE(first_->output.find("2 of 8 runs failed"), std::string::npos) << first_->output;
  EXPECT_NE(first_->output.find("Left out of the means: broken seed 0: "), std::string::npos) << first_->output;
  EXPECT_NE(first_->output.find("no-such-cache"), std::string::npos) << first_->output;
  // The intervals count the seeds of the set-ups that ran, not the failed one's none.
  EXPECT_NE(first_->output.find("Student's t over 2 seeds"), std::string::npos) << first_->output;
  const std::string summary = read_text(folder_ + "/out/summary.md");
  EXPECT_NE(summary.find("| broken | failed | — | 0 of 2 |"), std::string::npos) << summary;
  EXPECT_NE(read_text(folder_ + "/out/results.csv").find("broken,1,,,,," + folder_ + "/out/broken/seed-1,failed\n"),
            std::string::npos) << read_text(folder_ + "/out/results.csv");
  const json failure = json::parse(read_text(folder_ + "/out/broken/seed-0/failed.json"));
  EXPECT_NE(failure.at("error").get<std::string>().find("no-such-cache"), std::string::npos) << failure;
}

TEST_F(ReportTest, ResultsAndReportHoldEverySetupAndEveryRun) {
  const json results = json::parse(read_text(folder_ + "/out/results.json"));
  ASSERT_EQ(results.at("variants").size(), 1u);
  const json& variant = results["variants"][0];
  ASSERT_EQ(variant.at("setups").size(), 4u);
  ASSERT_EQ(variant.at("runs").size(), 8u);
  std::map<std::string, int> statuses;
  for (const auto& run : variant["runs"]) ++statuses[run.at("setup").get<std::string>() + ":" + run.at("status").get<std::string>()];
  EXPECT_EQ(statuses, (std::map<std::string, int>{{"broken:failed", 2}, {"cutmix:ok", 2}, {"generated:ok", 2}, {"none:ok", 2}}));
  const json& broken = variant["setups"][3];
  EXPECT_TRUE(broken.at("mean").is_null());
  EXPECT_EQ(broken.at("errors").size(), 2u);
  const json& cutmix = variant["setups"][1];
  EXPECT_EQ(cutmix.at("runs"), 2);
  EXPECT_NE(cutmix.at("delta_text").get<std::string>().find("["), std::string::npos) << cutmix;
  EXPECT_EQ(cutmix.at("per_class").size(), 10u);
  EXPECT_EQ(variant["runs"][0].at("history").size(), 2u);
  EXPECT_EQ(variant.at("data").at("classes").size(), 10u);
  EXPECT_FALSE(results.at("software").at("libtorch").get<std::string>().empty());
  EXPECT_FALSE(results["software"].at("plugins").empty());
  EXPECT_NE(results.at("comparison").at("config_text").get<std::string>().find("[[compare.setup]]"), std::string::npos);

  // The report: a self-contained folder whose data are results.json plus the synthetic samples, each tile captioned
  // with its source and target class, strength and soft label.
  const std::string report = folder_ + "/out/report";
  for (const char* file : {"index.html", "report.js", "report.css", "chart.min.js", "LICENSE.chart.js.txt"})
    EXPECT_TRUE(fs::exists(report + "/" + file)) << file;
  EXPECT_NE(read_text(report + "/LICENSE.chart.js.txt").find("Permission is hereby granted"), std::string::npos);
  const json data = report_data(report);
  ASSERT_EQ(data.at("variants")[0].at("runs").size(), 8u);
  const json& samples = data["variants"][0]["setups"][2].at("samples");
  ASSERT_EQ(samples.at("samples"), 20) << samples;
  ASSERT_EQ(samples.at("tiles").size(), 20u) << samples;  // 10 classes × 2
  const json& tile = samples["tiles"][0];
  EXPECT_EQ(tile.at("source"), "Trouser");
  EXPECT_EQ(tile.at("target"), "T-shirt/top");
  EXPECT_EQ(tile.at("strength"), 0.5);
  ASSERT_EQ(tile.at("label").size(), 2u) << tile;  // (1 − √0.5)·Trouser + √0.5·T-shirt/top
  EXPECT_TRUE(fs::exists(report + "/" + tile.at("file").get<std::string>()));
  EXPECT_TRUE(data["variants"][0]["setups"][3].at("samples").contains("error"));  // the missing cache, said so
}

TEST_F(ReportTest, AResumedComparisonRerunsNothingAndTheReportIsRebuiltWithoutTraining) {
  const auto before = run_files(folder_ + "/out");
  ASSERT_EQ(before.size(), 18u);  // 6 finished runs × 3 files
  const std::string results = read_text(folder_ + "/out/results.json");

  // Rerunning the comparison trains nothing that finished (the failed set-up is tried again, and fails again).
  const Command again = run("compare " + folder_ + "/compare.toml");
  EXPECT_NE(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("training small_cnn"), std::string::npos) << again.output;
  EXPECT_EQ(run_files(folder_ + "/out"), before);

  // `diffmix report` rebuilds results.json and the report from the runs' folders, from another working directory.
  fs::remove_all(folder_ + "/out/report");
  fs::remove(folder_ + "/out/results.json");
  const Command report = run("report " + folder_ + "/out");
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(report.output.find("6 of 8 runs finished; the report: " + folder_ + "/out/report/index.html"),
            std::string::npos) << report.output;
  EXPECT_EQ(run_files(folder_ + "/out"), before);
  const json rebuilt = json::parse(read_text(folder_ + "/out/results.json"));
  json original = json::parse(results);
  // The second comparison recorded its own start; everything else is the same.
  original["comparison"]["started"] = rebuilt["comparison"]["started"];
  EXPECT_EQ(rebuilt, original);
  EXPECT_TRUE(fs::exists(folder_ + "/out/report/index.html"));

  const Command not_a_run = run("report " + folder_);
  EXPECT_EQ(not_a_run.exit_code, 66) << not_a_run.output;
  EXPECT_NE(not_a_run.output.find(folder_ + "/comparison.json: no such file"), std::string::npos) << not_a_run.output;
}

// Whether Debian's chromium is installed (scripts/install-deps.sh installs it for this test).
bool have_chromium() { return std::system("command -v chromium > /dev/null 2>&1") == 0; }

// Opens `page` in headless Chromium and returns the DOM after the page loaded and its scripts ran.
std::string dump_dom(const std::string& page, const std::string& log) {
  const std::string flags = "--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --allow-file-access-from-files "
                            "--virtual-time-budget=10000 --enable-logging=stderr --v=0";
  const std::string dom = page + ".dom";
  std::system(("timeout 120 chromium " + flags + " --dump-dom 'file://" + page + "' > '" + dom + "' 2> '" + log +
               "'").c_str());
  return read_text(dom);
}

TEST_F(ReportTest, OpensInHeadlessChromiumWithoutErrors) {
  if (!have_chromium()) GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
  const std::string page = folder_ + "/out/report/index.html";
  ASSERT_TRUE(fs::exists(page));
  const std::string dom = dump_dom(page, folder_ + "/chromium.log");
  // report.js draws everything, then counts what went wrong: script errors, console errors, files that failed to load.
  EXPECT_NE(dom.find("data-state=\"rendered\""), std::string::npos) << dom.substr(0, 2000);
  EXPECT_NE(dom.find("data-problems=\"0\""), std::string::npos) << dom.substr(0, 2000);
  EXPECT_NE(dom.find("data-charts=\"2\""), std::string::npos) << dom.substr(0, 2000);  // accuracy and curves
  EXPECT_NE(dom.find("<td class=\"status-failed\">failed</td>"), std::string::npos);
  EXPECT_NE(dom.find("Trouser → T-shirt/top"), std::string::npos);
  const std::string log = read_text(folder_ + "/chromium.log");
  EXPECT_EQ(log.find(":CONSOLE"), std::string::npos) << log;

  // A screenshot for people to look at, in the build tree.
  const char* build = std::getenv("DIFFMIX_BUILD_DIR");
  const std::string screenshot = std::string(build ? build : folder_.c_str()) + "/report-screenshot.png";
  std::system(("timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2400 "
               "--virtual-time-budget=10000 --screenshot='" + screenshot + "' 'file://" + page + "' 2> /dev/null")
                  .c_str());
  EXPECT_GT(fs::exists(screenshot) ? fs::file_size(screenshot) : 0, 50000u) << screenshot;
  std::printf("report screenshot: %s\n", screenshot.c_str());

  // The check can fail: without its charting library the page reports the failed load.
  const std::string broken = folder_ + "/broken-report";
  fs::remove_all(broken);
  fs::copy(folder_ + "/out/report", broken, fs::copy_options::recursive);
  fs::remove(broken + "/chart.min.js");
  const std::string broken_dom = dump_dom(broken + "/index.html", folder_ + "/chromium-broken.log");
  EXPECT_EQ(broken_dom.find("data-problems=\"0\""), std::string::npos) << broken_dom.substr(0, 2000);
  EXPECT_NE(broken_dom.find("failed to load"), std::string::npos) << broken_dom.substr(0, 2000);
}

TEST(CompareMatrix, RunsEverySetupInEveryDataVariant) {
  if (!fs::exists(std::string(dmx::data::kFashionMnistDefaultRoot) + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST is not installed (apt install dataset-fashion-mnist)";
  const std::string folder = fresh_folder("matrix");
  write_cache(folder + "/cache-3-shot");
  write_cache(folder + "/cache-5-shot");
  const std::string config = tiny_config(folder + "/out") +
                             "[compare]\nseeds = [0]\njobs = 2\n"
                             "[[compare.setup]]\nname = \"none\"\n"
                             "[[compare.setup]]\nname = \"generated\"\n"
                             "synthetic = { cache = \"" + folder + "/cache-{variant}\", probability = 0.3 }\n"
                             "[[compare.variant]]\nname = \"3-shot\"\ndata = { shots = 3 }\n"
                             "[[compare.variant]]\nname = \"5-shot\"\ndata = { shots = 5 }\n";
  write(folder + "/matrix.toml", config);
  const Command command = run("compare " + folder + "/matrix.toml");
  ASSERT_EQ(command.exit_code, 0) << command.output;
  EXPECT_NE(command.output.find("variant 3-shot:"), std::string::npos) << command.output;
  for (const char* run : {"3-shot/none", "3-shot/generated", "5-shot/none", "5-shot/generated"})
    EXPECT_TRUE(fs::exists(folder + "/out/" + run + "/seed-0/result.json")) << run;
  const std::string matrix = read_text(folder + "/out/matrix.md");
  EXPECT_NE(matrix.find("| set-up | 3-shot | 5-shot |"), std::string::npos) << matrix;
  EXPECT_NE(matrix.find("| generated | "), std::string::npos) << matrix;
  EXPECT_TRUE(fs::exists(folder + "/out/3-shot/summary.md"));

  const json results = json::parse(read_text(folder + "/out/results.json"));
  ASSERT_EQ(results.at("variants").size(), 2u);
  EXPECT_EQ(results["variants"][0].at("data").at("shots"), 3);
  EXPECT_EQ(results["variants"][0].at("data").at("train_size"), 30);
  EXPECT_EQ(results["variants"][1].at("data").at("train_size"), 50);
  // {variant} in a set-up's synthetic table names each variant's own cache.
  EXPECT_EQ(results["variants"][1]["setups"][1].at("synthetic_cache"), folder + "/cache-5-shot");

  // A key that [data] does not have is refused where it is written.
  write(folder + "/typo.toml", config + "[[compare.variant]]\nname = \"typo\"\ndata = { shot = 2 }\n");
  const Command typo = run("compare " + folder + "/typo.toml --check");
  EXPECT_EQ(typo.exit_code, 78) << typo.output;
  EXPECT_NE(typo.output.find("typo.toml:29:"), std::string::npos) << typo.output;
  EXPECT_NE(typo.output.find("'shots'"), std::string::npos) << typo.output;
}

}  // namespace
