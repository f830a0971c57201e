#include "diffmix/classifier/compare.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <tuple>
#include <utility>
#include <sstream>

#include "diffmix/augmenter.hpp"
#include "diffmix/data/datasets.hpp"
#include "diffmix/data/synthetic_cache.hpp"
#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"
#include "diffmix/report/cache_sheet.hpp"
#include "diffmix/registry.hpp"
#include "report.hpp"

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

CompareConfig read_compare_config(const config::Table& root) {
  CompareConfig compare;
  compare.base = read_train_config(root);
  const auto table = root.table("compare");
  if (!table) throw config_error(root.source() + ": a comparison needs a [compare] table with [[compare.setup]] entries");
  compare.seeds.clear();
  for (int64_t seed : table->integer_list("seeds", {0}, {0, 9.0e15})) compare.seeds.push_back(static_cast<uint64_t>(seed));
  if (compare.seeds.empty()) throw config_error(table->where("seeds") + ": [compare] seeds must not be empty");
  compare.jobs = table->integer("jobs", 1, {1, 256});
  std::set<std::string> names;
  for (const auto& setup_table : table->table_array("setup")) {
    CompareSetup setup;
    setup.name = setup_table.required_string("name");
    if (!valid_folder_name(setup.name))
      throw config_error(setup_table.where("name") + ": set-up name '" + setup.name +
                         "' must be letters, digits, '-', '_', '.' or '+' (it names a folder)");
    if (!names.insert(setup.name).second)
      throw config_error(setup_table.where("name") + ": set-up name '" + setup.name + "' is used twice");
    setup.augment = augmenter_tables(setup_table, "augment");
    if (const auto synthetic = setup_table.table("synthetic")) {
      setup.synthetic.emplace();
      read_synthetic_settings(*synthetic, *setup.synthetic);
    }
    compare.setups.push_back(std::move(setup));
  }
  if (compare.setups.empty())
    throw config_error(table->where("setup") + ": [compare] needs at least one [[compare.setup]]");
  return compare;
}

TrainConfig setup_run_config(const CompareConfig& compare, const CompareSetup& setup, uint64_t seed) {
  TrainConfig config = compare.base;
  config.seed = seed;
  config.augment = setup.augment;
  if (setup.synthetic) config.synthetic = *setup.synthetic;
  config.output_dir = compare.base.output_dir + "/" + setup.name + "/seed-" + std::to_string(seed);
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

std::vector<std::vector<TrainResult>> run_comparison(const CompareConfig& compare, PluginRegistry& registry,
                                                     const RunOptions& options) {
  check_comparison(compare, registry);
  std::vector<std::vector<TrainResult>> runs(compare.setups.size());
  const size_t total = compare.setups.size() * compare.seeds.size();
  size_t done = 0;
  for (size_t s = 0; s < compare.setups.size(); ++s) {
    for (uint64_t seed : compare.seeds) {
      ++done;
      spdlog::info("run {}/{}: set-up '{}', seed {}", done, total, compare.setups[s].name, seed);
      runs[s].push_back(train_classifier(setup_run_config(compare, compare.setups[s], seed), registry, options));
    }
  }
  return runs;
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

std::vector<SetupSummary> summarise(const CompareConfig& compare, const std::vector<std::vector<TrainResult>>& runs) {
  std::vector<SetupSummary> summaries;
  for (size_t s = 0; s < compare.setups.size() && s < runs.size(); ++s) {
    SetupSummary summary;
    summary.name = compare.setups[s].name;
    summary.seeds = compare.seeds;
    for (const auto& run : runs[s]) {
      summary.top1.push_back(run.top1);
      const EpochMetrics* best = best_evaluated_epoch(run.history);
      summary.best_top1.push_back(best ? best->top1 : run.top1);
    }
    const double n = static_cast<double>(summary.top1.size());
    std::tie(summary.mean, summary.stddev) = mean_and_stddev(summary.top1);
    std::tie(summary.best_mean, summary.best_stddev) = mean_and_stddev(summary.best_top1);
    summary.eval_every = setup_run_config(compare, compare.setups[s], compare.seeds.front()).optim.eval_every;
    // Mean curve over the seeds, at the epochs every run evaluated.
    if (!runs[s].empty()) {
      for (const auto& epoch : runs[s].front().history) {
        if (!epoch.evaluated) continue;
        double sum = 0;
        for (const auto& run : runs[s])
          for (const auto& other : run.history)
            if (other.epoch == epoch.epoch && other.evaluated) sum += other.top1;
        summary.curve_epochs.push_back(epoch.epoch);
        summary.mean_curve.push_back(sum / n);
      }
    }
    summary.shot_groups = mean_shot_groups(runs[s]);
    summarise_test_groups(runs[s], summary);
    summaries.push_back(summary);
  }
  for (auto& summary : summaries) {
    summary.delta = summary.mean - summaries.front().mean;
    summary.versus_first = paired_difference(summary.top1, summaries.front().top1);
  }
  return summaries;
}

std::string difference_note(const std::vector<SetupSummary>& summaries) {
  if (summaries.size() < 2) return "";
  int64_t pairs = summaries[1].versus_first.pairs;
  for (size_t i = 1; i < summaries.size(); ++i) pairs = std::min(pairs, summaries[i].versus_first.pairs);
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
    rows.push_back({s.name, percent(s.mean) + " ± " + percent(s.stddev), difference_text(s, i == 0),
                    std::to_string(s.top1.size())});
    if (!best.empty()) rows.back().push_back(best_cell(s));
    if (robust) rows.back().push_back(worst_group_cell(s));
    if (groups) rows.back().push_back(s.shot_groups.empty() ? "—" : shot_group_text(s.shot_groups));
  }
  return rows;
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
  out << difference_note(summaries);
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
  if (const std::string note = difference_note(summaries); !note.empty()) out << "\n" << note;
  return out.str();
}

std::vector<SampleGrid> write_sample_grids(const CompareConfig& compare, const std::string& folder, int64_t per_class) {
  std::vector<SampleGrid> grids;
  std::vector<std::string> class_names;
  for (const auto& setup : compare.setups) {
    const TrainConfig config = setup_run_config(compare, setup, compare.seeds.front());
    if (config.synthetic.cache.empty()) continue;
    try {
      if (class_names.empty()) class_names = data::open_dataset(compare.base.data.train)->class_names();
      const auto cache = data::SyntheticCache::open_any(config.synthetic.cache, class_names);
      if (cache->size() == 0) continue;
      auto sheet = report::cache_sheet(*cache, class_names, {}, per_class);
      sheet.title = setup.name + ": " + std::to_string(cache->size()) + " samples of seed " +
                    std::to_string(compare.seeds.front());
      report::GridStyle style;
      style.cell = 64;
      SampleGrid grid{setup.name, "samples-" + setup.name + ".png", config.synthetic.cache, cache->size()};
      std::filesystem::create_directories(folder);
      io::write_image(folder + "/" + grid.file, report::compose_grid(sheet, style));
      grids.push_back(std::move(grid));
    } catch (const Error& error) {
      spdlog::warn("compare: no sample grid for set-up '{}': {}", setup.name, error.what());
    }
  }
  return grids;
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

void write_compare_outputs(const std::string& folder, const std::vector<SetupSummary>& summaries,
                           const std::vector<std::vector<TrainResult>>& runs,
                           const std::vector<SampleGrid>& sample_grids) {
  std::filesystem::create_directories(folder);
  std::ostringstream results;
  results << "setup,seed,top1,mean_per_class,best_top1,best_epoch,output_dir\n";
  for (size_t s = 0; s < summaries.size(); ++s)
    for (size_t r = 0; r < runs[s].size(); ++r) {
      const TrainResult& run = runs[s][r];
      const EpochMetrics* best = best_evaluated_epoch(run.history);
      results << summaries[s].name << ',' << summaries[s].seeds[r] << ',' << run.top1 << ',' << run.mean_per_class
              << ',' << (best ? best->top1 : run.top1) << ',' << (best ? best->epoch : 0) << ',' << run.output_dir
              << '\n';
    }
  write_text(folder + "/results.csv", results.str());

  std::ostringstream summary;
  const bool groups = any_shot_groups(summaries);
  summary << "setup,runs,top1_mean,top1_std,delta_vs_first,delta_ci_low,delta_ci_high,best_mean,best_std"
          << (groups ? ",many,medium,few" : "") << '\n';
  for (const auto& s : summaries) {
    summary << s.name << ',' << s.top1.size() << ',' << s.mean << ',' << s.stddev << ',' << s.delta << ','
            << s.versus_first.low << ',' << s.versus_first.high << ',' << s.best_mean << ',' << s.best_stddev;
    if (groups)
      for (size_t g = 0; g < 3; ++g) summary << ',' << (g < s.shot_groups.size() ? s.shot_groups[g] : std::nan(""));
    summary << '\n';
  }
  write_text(folder + "/summary.csv", summary.str());
  write_text(folder + "/summary.md", format_compare_markdown(summaries));
  if (any_test_groups(summaries)) write_text(folder + "/groups.csv", test_groups_csv(summaries));

  io::write_image(folder + "/accuracy.png", render_accuracy_bars(summaries));
  io::write_image(folder + "/curves.png", render_accuracy_curves(summaries));
  write_text(folder + "/report.html", compare_report_html(summaries, runs, sample_grids));
}

}  // namespace dmx::classifier
