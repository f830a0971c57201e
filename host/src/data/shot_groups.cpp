#include "diffmix/data/shot_groups.hpp"

#include <cmath>

namespace dmx::data {

ShotThresholds paper_shot_thresholds(const std::string& kind) {
  if (kind == "flowers102") return {30, 10};
  return {20, 5};
}

ShotGroup shot_group(int64_t training_images, const ShotThresholds& thresholds) {
  if (training_images > thresholds.many) return ShotGroup::Many;
  if (training_images < thresholds.few) return ShotGroup::Few;
  return ShotGroup::Medium;
}

const char* to_string(ShotGroup group) {
  switch (group) {
    case ShotGroup::Many: return "Many";
    case ShotGroup::Medium: return "Medium";
    case ShotGroup::Few: return "Few";
  }
  return "";
}

std::vector<ShotGroupAccuracy> shot_group_accuracy(const std::vector<int64_t>& training_counts,
                                                   const std::vector<double>& per_class_accuracy,
                                                   const ShotThresholds& thresholds) {
  std::vector<ShotGroupAccuracy> groups = {{ShotGroup::Many}, {ShotGroup::Medium}, {ShotGroup::Few}};
  std::vector<int64_t> measured(groups.size(), 0);
  for (auto& group : groups) group.accuracy = 0;
  for (size_t k = 0; k < training_counts.size(); ++k) {
    const auto g = static_cast<size_t>(shot_group(training_counts[k], thresholds));
    ++groups[g].classes;
    if (k < per_class_accuracy.size() && !std::isnan(per_class_accuracy[k])) {
      groups[g].accuracy += per_class_accuracy[k];
      ++measured[g];
    }
  }
  for (size_t g = 0; g < groups.size(); ++g)
    groups[g].accuracy = measured[g] > 0 ? groups[g].accuracy / static_cast<double>(measured[g]) : std::nan("");
  return groups;
}

}  // namespace dmx::data
