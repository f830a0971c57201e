// Many / Medium / Few: how long-tail results are broken down. A class is Many-shot with more than `many` training
// images, Few-shot with fewer than `few`, and Medium-shot otherwise. The Diff-Mix authors' thresholds are CUB 20 / 5
// and Flowers 102 30 / 10.
//
//   const auto thresholds = dmx::data::paper_shot_thresholds("flowers102");   // {30, 10}
//   dmx::data::shot_group(12, thresholds);                                    // ShotGroup::Medium
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dmx::data {

struct ShotThresholds {
  int64_t many = 20;  // more images than this: Many
  int64_t few = 5;    // fewer images than this: Few
};

enum class ShotGroup { Many, Medium, Few };

// The authors' thresholds for a dataset kind: flowers102 30 / 10, CUB's 20 / 5 for every other kind.
ShotThresholds paper_shot_thresholds(const std::string& kind);
ShotGroup shot_group(int64_t training_images, const ShotThresholds& thresholds);
// "Many", "Medium", "Few".
const char* to_string(ShotGroup group);

struct ShotGroupAccuracy {
  ShotGroup group = ShotGroup::Many;
  int64_t classes = 0;   // classes in the group
  double accuracy = 0;   // mean of their per-class test accuracies (NaN when none has test images)
};

// Many, Medium and Few, in that order: the mean per-class accuracy of each group's classes, as the Diff-Mix authors
// report long-tail results. `training_counts[k]` is class k's training images, `per_class_accuracy[k]` its test
// accuracy (NaN for a class without test images, which is then left out of its group's mean).
std::vector<ShotGroupAccuracy> shot_group_accuracy(const std::vector<int64_t>& training_counts,
                                                   const std::vector<double>& per_class_accuracy,
                                                   const ShotThresholds& thresholds);

}  // namespace dmx::data
