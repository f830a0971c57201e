#include "diffmix/classifier/compare.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <tuple>
#include <utility>
#include <sstream>

#include <nlohmann/json.hpp>

#include "diffmix/augmenter.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/registry.hpp"

namespace dmx::classifier {
namespace {

bool valid_folder_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '+')) return false;
  return true;
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f", fraction * 100.0);
  return text;
}

std::string signed_points(double fraction) {
  char text[32];
  std::snprintf(text, sizeof(text), "%+.2f", fraction * 100.0);
  return text;
}

void write_text(const std::string& path, const std::string& text) { io::write_file_atomic(path, text.data(), text.size()); }

// Many, Medium and Few accuracy, each the mean over the runs that measured it; empty unless every run has them.
std::vector<double> mean_shot_groups(const std::vector<TrainResult>& runs) {
  std::vector<double> means;
  for (const auto& run : runs)
    if (run.shot_groups.size() != 3) return means;
  for (size_t g = 0; g < 3 && !runs.empty(); ++g) {
    double sum = 0;
    int n = 0;
    for (const auto& run : runs)
      if (!std::isnan(run.shot_groups[g].accuracy)) sum += run.shot_groups[g].accuracy, ++n;
    means.push_back(n > 0 ? sum / n : std::nan(""));
  }
  return means;
}

// "81.20 / 60.10 / 35.00", or "—" when a group has no measured class.
std::string shot_group_text(const std::vector<double>& groups) {
  std::string text;
  for (double value : groups) text += (text.empty() ? "" : " / ") + (std::isnan(value) ? "—" : percent(value));
  return text;
}

bool any_shot_groups(const std::vector<SetupSummary>& summaries) {
  for (const auto& summary : summaries)
    if (!summary.shot_groups.empty()) return true;
  return false;
}

}  // namespace

namespace {

// Set-up and variant names become folder names.
void check_folder_name(const config::Table& table, const std::string& what, const std::string& name,
                       std::set<std::string>& seen) {
  if (!valid_folder_name(name))
    throw config_error(table.where("name") + ": " + what + " name '" + name +
                       "' must be letters, digits, '-', '_', '.' or '+' (it names a folder)");
  if (!seen.insert(name).second)
    throw config_error(table.where("name") + ": " + what + " name '" + name + "' is used twice");
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// Every string in `node` (recursively) with "{variant}" replaced by `variant`.
void substitute_variant(toml::node& node, const std::string& variant) {
  if (auto* text = node.as_string()) {
    std::string value = text->get();
    replace_all(value, "{variant}", variant);
    *text = value;
  } else if (auto* table = node.as_table()) {
    for (auto&& [key, child] : *table) substitute_variant(child, variant);
  } else if (auto* array = node.as_array()) {
    for (auto& child : *array) substitute_variant(child, variant);
  }
}

// One [[compare.variant]]: its `data` keys over [data], its output folder, and {variant} in the set-ups' tables.
CompareConfig apply_variant(const CompareConfig& plain, const config::Table& root, const config::Table& variant_table,
                            const std::vector<config::Table>& setup_tables, const std::string& name) {
  CompareConfig compare = plain;
  compare.variant = name;
  set_comparison_output(compare, plain.output);
  if (const auto overrides = variant_table.table("data")) {
    toml::table merged;
    if (const auto data = root.table("data")) {
      merged = data->raw();
      for (auto&& [key, value] : merged) data->skip(key.str());  // read with the one-run sections already
    }
    for (auto&& [key, value] : overrides->raw()) merged.insert_or_assign(key, value);
    // A table of its own, so that a key of `data` no [data] reader knows is refused with its place in the file.
    const config::Table merged_table(merged, root.source(), variant_table.path() + ".data");
    compare.base.data = DataSettings{};
    read_data_settings(merged_table, compare.base.data);
    merged_table.finish();
    for (auto&& [key, value] : overrides->raw()) overrides->skip(key.str());
  }
  for (size_t s = 0; s < compare.setups.size(); ++s) {
    const auto synthetic = setup_tables[s].table("synthetic");
    if (!synthetic) continue;
    for (auto&& [key, value] : synthetic->raw()) synthetic->skip(key.str());  // read with the set-up, above
    auto substituted = std::make_shared<toml::table>(synthetic->raw());
    substitute_variant(*substituted, name);
    compare.setups[s].synthetic.emplace();
    read_synthetic_settings(config::Table(*substituted, root.source(), synthetic->path()), *compare.setups[s].synthetic);
    compare.setups[s].variant_tables.push_back(std::move(substituted));
  }
  return compare;
}

}  // namespace

std::vector<CompareConfig> read_compare_matrix(const config::Table& root) {
  CompareConfig compare;
  compare.base = read_train_config(root);
  compare.output = compare.base.output_dir;
  const auto table = root.table("compare");
  if (!table) throw config_error(root.source() + ": a comparison needs a [compare] table with [[compare.setup]] entries");
  compare.seeds.clear();
  for (int64_t seed : table->integer_list("seeds", {0}, {0, 9.0e15})) compare.seeds.push_back(static_cast<uint64_t>(seed));
  if (compare.seeds.empty()) throw config_error(table->where("seeds") + ": [compare] seeds must not be empty");
  if (std::set<uint64_t>(compare.seeds.begin(), compare.seeds.end()).size() != compare.seeds.size())
    throw config_error(table->where("seeds") + ": [compare] seeds lists a seed twice");
  compare.jobs = table->integer("jobs", 1, {1, 256});
  std::set<std::string> names;
  const auto setup_tables = table->table_array("setup");
  for (const auto& setup_table : setup_tables) {
    CompareSetup setup;
    setup.name = setup_table.required_string("name");
    check_folder_name(setup_table, "set-up", setup.name, names);
    setup.augment = augmenter_tables(setup_table, "augment");
    if (const auto synthetic = setup_table.table("synthetic")) {
      setup.synthetic.emplace();
      read_synthetic_settings(*synthetic, *setup.synthetic);
    }
    compare.setups.push_back(std::move(setup));
  }
  if (compare.setups.empty())
    throw config_error(table->where("setup") + ": [compare] needs at least one [[compare.setup]]");

  std::vector<CompareConfig> matrix;
  std::set<std::string> variant_names;
  for (const auto& variant_table : table->table_array("variant")) {
    const std::string name = variant_table.required_string("name");
    check_folder_name(variant_table, "variant", name, variant_names);
    matrix.push_back(apply_variant(compare, root, variant_table, setup_tables, name));
  }
  if (matrix.empty()) matrix.push_back(std::move(compare));
  return matrix;
}

CompareConfig read_compare_config(const config::Table& root) {
  auto matrix = read_compare_matrix(root);
  if (!matrix.front().variant.empty())
    throw config_error(root.where("compare") + ": this reader takes one comparison, but [compare] has " +
                       std::to_string(matrix.size()) + " variants (read it with read_compare_matrix)");
  return std::move(matrix.front());
}

void set_comparison_output(CompareConfig& compare, const std::string& output) {
  compare.output = output;
  compare.base.output_dir = compare.variant.empty() ? output : output + "/" + compare.variant;
}

TrainConfig setup_run_config(const CompareConfig& compare, const CompareSetup& setup, uint64_t seed) {
  TrainConfig config = compare.base;
  config.seed = seed;
  config.augment = setup.augment;
  if (setup.synthetic) config.synthetic = *setup.synthetic;
  config.output_dir = compare.base.output_dir + "/" + setup.name + "/seed-" + std::to_string(seed);
  if (!compare.variant.empty()) {
    const bool named = config.synthetic.cache.find("{variant}") != std::string::npos;
    replace_all(config.synthetic.cache, "{variant}", compare.variant);
    if (config.synthetic.stream && !named) config.synthetic.cache += "/" + compare.variant;
  }
  // Streamed sample k is a function of (seed, k): each seed streams into a cache of its own, which the set-ups of
  // that seed share.
  if (config.synthetic.stream) config.synthetic.cache += "/seed-" + std::to_string(seed);
  return config;
}

void check_comparison(const CompareConfig& compare, PluginRegistry& registry) {
  const data::DatasetPtr dataset = data::open_dataset(compare.base.data.train);
  AugmenterContext context;
  context.num_classes = dataset->num_classes();
  for (const auto& setup : compare.setups) {
    AugmentChain::from_config(registry, setup.augment, context);
    const TrainConfig first_run = setup_run_config(compare, setup, compare.seeds.front());
    if (first_run.synthetic.stream) create_stream_source(first_run, dataset, registry);
  }
}

void record_run_failure(const std::string& output_dir, const std::string& error, const std::string& log_path) {
  nlohmann::json record = {{"error", error}};
  if (!log_path.empty()) record["log"] = log_path;
  std::filesystem::create_directories(output_dir);
  write_text(output_dir + "/" + kRunFailureFileName, record.dump(2) + "\n");
}

RunOutcome run_and_record(const TrainConfig& run, PluginRegistry& registry, const RunOptions& options) {
  RunOutcome outcome;
  outcome.seed = run.seed;
  outcome.output_dir = run.output_dir;
  std::error_code ignored;
  std::filesystem::remove(run.output_dir + "/" + kRunFailureFileName, ignored);
  try {
    outcome.result = train_classifier(run, registry, options);
  } catch (const Error& error) {
    if (error.category() == ErrorCategory::Cancelled || error.category() == ErrorCategory::Busy) throw;
    spdlog::error("{}: the run failed: {}", run.output_dir, error.what());
    record_run_failure(run.output_dir, error.what());
    outcome.error = error.what();
    outcome.failed = true;
    outcome.error_category = error.category();
  }
  return outcome;
}

ComparisonRuns run_comparison(const CompareConfig& compare, PluginRegistry& registry, const RunOptions& options) {
  check_comparison(compare, registry);
  ComparisonRuns runs(compare.setups.size());
  const size_t total = compare.setups.size() * compare.seeds.size();
  size_t done = 0;
  for (size_t s = 0; s < compare.setups.size(); ++s) {
    for (uint64_t seed : compare.seeds) {
      ++done;
      spdlog::info("run {}/{}: set-up '{}', seed {}{}", done, total, compare.setups[s].name, seed,
                   compare.variant.empty() ? "" : ", variant '" + compare.variant + "'");
      runs[s].push_back(run_and_record(setup_run_config(compare, compare.setups[s], seed), registry, options));
    }
  }
  return runs;
}

namespace {

// Why a run without a result has none: its failed.json, or that it has not finished.
std::pair<std::string, bool> missing_reason(const std::string& output_dir) {
  const std::string path = output_dir + "/" + kRunFailureFileName;
  const std::string text = io::read_text_if_exists(path);
  if (text.empty()) return {"not finished: " + output_dir + " has no result.json from these settings", false};
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_object() && json.contains("error") && json["error"].is_string())
    return {json["error"].get<std::string>(), true};
  return {"failed (" + path + " is unreadable)", true};
}

}  // namespace

ComparisonRuns read_comparison_runs(const CompareConfig& compare) {
  ComparisonRuns runs(compare.setups.size());
  for (size_t s = 0; s < compare.setups.size(); ++s)
    for (uint64_t seed : compare.seeds) {
      const TrainConfig run = setup_run_config(compare, compare.setups[s], seed);
      RunOutcome outcome;
      outcome.seed = seed;
      outcome.output_dir = run.output_dir;
      outcome.result = read_finished_run(run);
      if (!outcome.result) std::tie(outcome.error, outcome.failed) = missing_reason(run.output_dir);
      runs[s].push_back(std::move(outcome));
    }
  return runs;
}

int64_t unfinished_runs(const ComparisonRuns& runs) {
  int64_t count = 0;
  for (const auto& setup : runs)
    for (const auto& run : setup) count += !run.ok();
  return count;
}

namespace {

// Mean and sample standard deviation (n − 1; 0 for one value).
std::pair<double, double> mean_and_stddev(const std::vector<double>& values) {
  if (values.empty()) return {0.0, 0.0};
  const double n = static_cast<double>(values.size());
  double mean = 0;
  for (double value : values) mean += value / n;
  double squares = 0;
  for (double value : values) squares += (value - mean) * (value - mean);
  return {mean, values.size() > 1 ? std::sqrt(squares / (n - 1.0)) : 0.0};
}

// The header of the best-epoch column, or "" when no set-up evaluates less often than every epoch (the last epoch
// is then the only number worth a column).
std::string best_column(const std::vector<SetupSummary>& summaries) {
  int64_t every = 1;
  for (const auto& summary : summaries) every = std::max(every, summary.eval_every);
  return every > 1 ? "best epoch % (evaluated every " + std::to_string(every) + ")" : "";
}

std::string best_cell(const SetupSummary& s) { return percent(s.best_mean) + " ± " + percent(s.best_stddev); }

// Each group's accuracy and the worst group's, means over the runs that scored groups.
void summarise_test_groups(const std::vector<TrainResult>& runs, SetupSummary& summary) {
  double worst_sum = 0;
  int64_t scored = 0;
  for (const auto& run : runs) {
    if (run.test_groups.empty()) continue;
    if (summary.test_groups.empty()) {
      summary.test_groups = run.test_groups;
      for (auto& group : summary.test_groups) group.accuracy = 0;
    }
    for (size_t g = 0; g < run.test_groups.size() && g < summary.test_groups.size(); ++g)
      summary.test_groups[g].accuracy += run.test_groups[g].accuracy;
    worst_sum += worst_group_accuracy(run.test_groups);
    ++scored;
  }
  if (scored == 0) return;
  for (auto& group : summary.test_groups) group.accuracy /= static_cast<double>(scored);
  summary.worst_group = worst_sum / static_cast<double>(scored);
}

bool any_test_groups(const std::vector<SetupSummary>& summaries) {
  for (const auto& summary : summaries)
    if (!summary.test_groups.empty()) return true;
  return false;
}

std::string worst_group_cell(const SetupSummary& s) { return std::isnan(s.worst_group) ? "—" : percent(s.worst_group); }

}  // namespace

std::string difference_text(const SetupSummary& s, bool baseline) {
  if (baseline) return "—";
  const PairedDifference& d = s.versus_first;
  if (std::isnan(d.low)) return signed_points(s.delta);
  return signed_points(s.delta) + " [" + signed_points(d.low) + ", " + signed_points(d.high) + "]" +
         (d.excludes_zero() ? " *" : "");
}

namespace {

// The pairs of the seeds that finished in both set-ups, for paired_difference.
PairedDifference paired_by_seed(const SetupSummary& setup, const SetupSummary& baseline) {
  std::vector<double> a, b;
  for (size_t i = 0; i < setup.seeds.size(); ++i)
    for (size_t j = 0; j < baseline.seeds.size(); ++j)
      if (setup.seeds[i] == baseline.seeds[j]) a.push_back(setup.top1[i]), b.push_back(baseline.top1[j]);
  return paired_difference(a, b);
}

}  // namespace

std::vector<SetupSummary> summarise(const CompareConfig& compare, const ComparisonRuns& runs) {
  std::vector<SetupSummary> summaries;
  for (size_t s = 0; s < compare.setups.size() && s < runs.size(); ++s) {
    SetupSummary summary;
    summary.name = compare.setups[s].name;
    summary.planned = static_cast<int64_t>(runs[s].size());
    std::vector<TrainResult> finished;
    for (const auto& run : runs[s]) {
      if (!run.ok()) {
        summary.errors.push_back("seed " + std::to_string(run.seed) + ": " + run.error);
        continue;
      }
      finished.push_back(*run.result);
      summary.seeds.push_back(run.seed);
      summary.top1.push_back(run.result->top1);
      const EpochMetrics* best = best_evaluated_epoch(run.result->history);
      summary.best_top1.push_back(best ? best->top1 : run.result->top1);
    }
    const double n = static_cast<double>(summary.top1.size());
    std::tie(summary.mean, summary.stddev) = mean_and_stddev(summary.top1);
    std::tie(summary.best_mean, summary.best_stddev) = mean_and_stddev(summary.best_top1);
    summary.eval_every = setup_run_config(compare, compare.setups[s], compare.seeds.front()).optim.eval_every;
    // Mean curve over the seeds, at the epochs every run evaluated.
    if (!finished.empty()) {
      for (const auto& epoch : finished.front().history) {
        if (!epoch.evaluated) continue;
        double sum = 0;
        for (const auto& run : finished)
          for (const auto& other : run.history)
            if (other.epoch == epoch.epoch && other.evaluated) sum += other.top1;
        summary.curve_epochs.push_back(epoch.epoch);
        summary.mean_curve.push_back(sum / n);
      }
    }
    summary.shot_groups = mean_shot_groups(finished);
    summarise_test_groups(finished, summary);
    summaries.push_back(summary);
  }
  for (auto& summary : summaries) {
    summary.delta = summary.mean - summaries.front().mean;
    summary.versus_first = paired_by_seed(summary, summaries.front());
  }
  return summaries;
}

std::string difference_note(const std::vector<SetupSummary>& summaries) {
  // The fewest pairs among the set-ups that have runs (one whose every run failed has no Δ at all).
  int64_t pairs = -1;
  for (size_t i = 1; i < summaries.size(); ++i)
    if (!summaries[i].top1.empty())
      pairs = pairs < 0 ? summaries[i].versus_first.pairs : std::min(pairs, summaries[i].versus_first.pairs);
  if (pairs < 0) return "";
  std::string note = "Δ: each set-up minus " + summaries.front().name + ", paired by seed, with the 95 % confidence " +
                     "interval of the mean difference (Student's t over " + std::to_string(pairs) + " seeds); * marks " +
                     "an interval that excludes 0.\n";
  if (pairs < 2)
    note += "Warning: with one seed there is no interval, and a difference cannot be told from seed noise; run " +
            std::string("3 or more seeds ([compare] seeds).\n");
  else if (pairs < 3)
    note += "Warning: with 2 seeds the interval is 12.7 standard errors wide on each side, so only large differences " +
            std::string("show; 3 or more seeds ([compare] seeds) separate set-ups far better.\n");
  return note;
}

namespace {

// The comparison as rows of cells, the header first: what the text table and summary.md both show.
std::vector<std::vector<std::string>> table_rows(const std::vector<SetupSummary>& summaries) {
  const std::string first = summaries.empty() ? "" : summaries.front().name;
  const bool groups = any_shot_groups(summaries);
  const bool robust = any_test_groups(summaries);
  const std::string best = best_column(summaries);
  std::vector<std::vector<std::string>> rows = {{"set-up", "top-1 % (mean ± std)", "Δ vs " + first + " [95 % CI]", "runs"}};
  if (!best.empty()) rows[0].push_back(best);
  if (robust) rows[0].push_back("worst group %");
  if (groups) rows[0].push_back("Many / Medium / Few %");
  for (size_t i = 0; i < summaries.size(); ++i) {
    const auto& s = summaries[i];
    const bool none = s.top1.empty();
    const std::string runs = s.errors.empty() ? std::to_string(s.top1.size())
                                              : std::to_string(s.top1.size()) + " of " + std::to_string(s.planned);
    rows.push_back({s.name, none ? "failed" : percent(s.mean) + " ± " + percent(s.stddev),
                    none || summaries.front().top1.empty() ? "—" : difference_text(s, i == 0), runs});
    if (!best.empty()) rows.back().push_back(best_cell(s));
    if (robust) rows.back().push_back(worst_group_cell(s));
    if (groups) rows.back().push_back(s.shot_groups.empty() ? "—" : shot_group_text(s.shot_groups));
  }
  return rows;
}

// A line per run that failed or has not finished, under the tables: a set-up is shown as failed, never dropped.
std::string failure_note(const std::vector<SetupSummary>& summaries) {
  std::string note;
  for (const auto& s : summaries)
    for (const auto& error : s.errors) {
      const std::string first_line = error.substr(0, error.find('\n'));
      note += "Left out of the means: " + s.name + " " + first_line + "\n";
    }
  return note;
}

}  // namespace

std::string format_compare_table(const std::vector<SetupSummary>& summaries) {
  const auto rows = table_rows(summaries);
  // Widths in characters, not bytes: "±", "Δ" and "—" are two or three bytes in UTF-8.
  auto width = [](const std::string& text) {
    size_t n = 0;
    for (unsigned char c : text) n += (c & 0xC0) != 0x80;
    return n;
  };
  const size_t columns = rows[0].size();
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < columns; ++c) widths[c] = std::max(widths[c], width(row[c]));
  std::ostringstream out;
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < columns; ++c) {
      const size_t pad = widths[c] - width(rows[r][c]);
      if (c == 0) out << rows[r][c] << std::string(pad, ' ');
      else out << "  " << std::string(pad, ' ') << rows[r][c];
    }
    out << '\n';
    if (r == 0) {
      size_t line = 0;
      for (size_t w : widths) line += w + 2;
      out << std::string(line - 2, '-') << '\n';
    }
  }
  out << difference_note(summaries) << failure_note(summaries);
  return out.str();
}

std::string format_compare_markdown(const std::vector<SetupSummary>& summaries) {
  const auto rows = table_rows(summaries);
  std::ostringstream out;
  for (size_t r = 0; r < rows.size(); ++r) {
    out << "|";
    for (const auto& cell : rows[r]) out << " " << cell << " |";
    out << "\n";
    if (r == 0) {
      out << "|";
      for (size_t c = 0; c < rows[0].size(); ++c) out << "---|";
      out << "\n";
    }
  }
  if (const std::string note = difference_note(summaries) + failure_note(summaries); !note.empty())
    out << "\n" << note;
  return out.str();
}

namespace {

// setup,group,images,accuracy: every set-up's mean accuracy per test group (the rows of the paper's Table 4).
std::string test_groups_csv(const std::vector<SetupSummary>& summaries) {
  std::ostringstream csv;
  csv << "setup,group,images,accuracy\n";
  for (const auto& s : summaries)
    for (const auto& group : s.test_groups)
      csv << s.name << ',' << group.name << ',' << group.images << ',' << group.accuracy << '\n';
  return csv.str();
}

}  // namespace

void write_compare_tables(const std::string& folder, const std::vector<SetupSummary>& summaries,
                          const ComparisonRuns& runs) {
  std::filesystem::create_directories(folder);
  std::ostringstream results;
  // New columns go last, so that readers of the older columns by position still work.
  results << "setup,seed,top1,mean_per_class,best_top1,best_epoch,output_dir,status\n";
  for (size_t s = 0; s < summaries.size() && s < runs.size(); ++s)
    for (const RunOutcome& outcome : runs[s]) {
      results << summaries[s].name << ',' << outcome.seed << ',';
      if (!outcome.ok()) {
        results << ",,,," << outcome.output_dir << ',' << (outcome.failed ? "failed" : "missing") << '\n';
        continue;
      }
      const TrainResult& run = *outcome.result;
      const EpochMetrics* best = best_evaluated_epoch(run.history);
      results << run.top1 << ',' << run.mean_per_class << ',' << (best ? best->top1 : run.top1) << ','
              << (best ? best->epoch : 0) << ',' << run.output_dir << ",ok\n";
    }
  write_text(folder + "/results.csv", results.str());

  std::ostringstream summary;
  const bool groups = any_shot_groups(summaries);
  summary << "setup,runs,top1_mean,top1_std,delta_vs_first,delta_ci_low,delta_ci_high,best_mean,best_std"
          << (groups ? ",many,medium,few" : "") << ",failed\n";
  for (const auto& s : summaries) {
    const double nan = std::nan("");
    const bool none = s.top1.empty();
    summary << s.name << ',' << s.top1.size() << ',' << (none ? nan : s.mean) << ',' << (none ? nan : s.stddev)
            << ',' << (none ? nan : s.delta) << ',' << s.versus_first.low << ',' << s.versus_first.high << ','
            << (none ? nan : s.best_mean) << ',' << (none ? nan : s.best_stddev);
    if (groups)
      for (size_t g = 0; g < 3; ++g) summary << ',' << (g < s.shot_groups.size() ? s.shot_groups[g] : nan);
    summary << ',' << s.errors.size() << '\n';
  }
  write_text(folder + "/summary.csv", summary.str());
  write_text(folder + "/summary.md", format_compare_markdown(summaries));
  if (any_test_groups(summaries)) write_text(folder + "/groups.csv", test_groups_csv(summaries));
}

}  // namespace dmx::classifier
