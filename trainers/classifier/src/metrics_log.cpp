#include "metrics_log.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <limits>

#include "diffmix/error.hpp"
#include "diffmix/io/image.hpp"

namespace dmx::classifier {
namespace {

nlohmann::json to_json(const EpochMetrics& m, const std::vector<std::string>& class_names) {
  nlohmann::json line = {{"epoch", m.epoch},         {"step", m.step},
                         {"lr", m.lr},               {"train_loss", m.train_loss},
                         {"images_per_s", m.images_per_second}, {"seconds", m.seconds}};
  if (m.evaluated) {
    line["test_top1"] = m.top1;
    line["test_mean_per_class"] = m.mean_per_class;
    nlohmann::json per_class = nlohmann::json::object();
    for (size_t k = 0; k < m.per_class.size() && k < class_names.size(); ++k)
      per_class[class_names[k]] = std::isnan(m.per_class[k]) ? nlohmann::json(nullptr) : nlohmann::json(m.per_class[k]);
    line["test_per_class"] = per_class;
  }
  return line;
}

EpochMetrics from_json(const nlohmann::json& line, const std::vector<std::string>& class_names) {
  EpochMetrics m;
  m.epoch = line.at("epoch").get<int64_t>();
  m.step = line.at("step").get<int64_t>();
  m.lr = line.at("lr").get<double>();
  m.train_loss = line.at("train_loss").get<double>();
  m.images_per_second = line.at("images_per_s").get<double>();
  m.seconds = line.at("seconds").get<double>();
  if (line.contains("test_top1")) {
    m.evaluated = true;
    m.top1 = line.at("test_top1").get<double>();
    m.mean_per_class = line.at("test_mean_per_class").get<double>();
    const auto& per_class = line.at("test_per_class");
    for (const auto& name : class_names) {
      const auto found = per_class.find(name);
      m.per_class.push_back(found == per_class.end() || found->is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                                        : found->get<double>());
    }
  }
  return m;
}

}  // namespace

std::string metrics_line(const EpochMetrics& metrics, const std::vector<std::string>& class_names) {
  return to_json(metrics, class_names).dump();
}

std::vector<EpochMetrics> restore_metrics(const std::string& path, int64_t keep_epochs,
                                          const std::vector<std::string>& class_names) {
  std::vector<EpochMetrics> kept;
  std::ifstream in(path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string original = bytes.str();
  std::string text;
  std::istringstream lines(original);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    try {
      EpochMetrics m = from_json(nlohmann::json::parse(line), class_names);
      if (m.epoch > keep_epochs) continue;
      kept.push_back(m);
      text += line + "\n";
    } catch (const nlohmann::json::exception&) {
      // A line cut short by a kill; that epoch is run again and its line rewritten.
    }
  }
  // Rewritten only when something was dropped: reading back a finished run writes nothing.
  if ((in.is_open() || !text.empty()) && text != original) io::write_file_atomic(path, text.data(), text.size());
  return kept;
}

void append_metrics(const std::string& path, const EpochMetrics& metrics, const std::vector<std::string>& class_names) {
  std::ofstream out(path, std::ios::app);
  out << metrics_line(metrics, class_names) << '\n';
  out.flush();
  if (!out) throw io_error("cannot append to " + path);
}

}  // namespace dmx::classifier
