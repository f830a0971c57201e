// metrics.jsonl: one JSON object per epoch, appended and flushed as each epoch ends.
#pragma once

#include <string>
#include <vector>

#include "diffmix/classifier/trainer.hpp"

namespace dmx::classifier {

// One line of metrics.jsonl; per-class accuracies are keyed by class name.
std::string metrics_line(const EpochMetrics& metrics, const std::vector<std::string>& class_names);

// Reads the epochs 1..keep_epochs back from `path` (a missing file gives none) and rewrites the file with just those
// lines: after a resume, lines of epochs that the checkpoint does not cover are dropped and written again.
std::vector<EpochMetrics> restore_metrics(const std::string& path, int64_t keep_epochs,
                                          const std::vector<std::string>& class_names);

void append_metrics(const std::string& path, const EpochMetrics& metrics, const std::vector<std::string>& class_names);

}  // namespace dmx::classifier
