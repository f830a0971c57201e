// Top-1 accuracy overall and per class, accumulated over evaluation batches.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace dmx::classifier {

class AccuracyCounter {
 public:
  explicit AccuracyCounter(int64_t num_classes);
  // Also counts by group: sample n (in the order add() sees them) belongs to group_of[n] in [0, num_groups). The
  // vector must outlive the counter.
  AccuracyCounter(int64_t num_classes, const std::vector<int64_t>* group_of, int64_t num_groups);

  // logits N×K; targets: class indices (N) or soft labels (N×K, whose argmax is the class).
  void add(const at::Tensor& logits, const at::Tensor& targets);

  int64_t seen() const { return seen_; }
  // Fraction in [0, 1]; 0 when nothing was seen.
  double top1() const;
  // One fraction per class; a class never seen gets NaN (it has no accuracy, and 0 would read as a failure).
  std::vector<double> per_class() const;
  // Mean of per_class() over the classes seen (balanced accuracy).
  double mean_per_class() const;
  // One fraction per group (NaN for a group never seen); empty without groups.
  std::vector<double> per_group() const;
  // Samples seen per group.
  const std::vector<int64_t>& group_seen() const { return group_seen_; }

  // Every count as one int64 tensor, and the sum of such tensors back: processes that each score a share of a test
  // set add their counts up (an all-reduce) and read the whole set's accuracy.
  at::Tensor counts() const;
  void set_counts(const at::Tensor& counts);
  // The index in group_of of the next sample add() sees (a share that starts part-way into the test set).
  void start_at_sample(int64_t sample) { next_sample_ = sample; }

 private:
  int64_t num_classes_;
  int64_t seen_ = 0;
  int64_t next_sample_ = 0;
  int64_t correct_ = 0;
  std::vector<int64_t> class_seen_;
  std::vector<int64_t> class_correct_;
  const std::vector<int64_t>* group_of_ = nullptr;
  std::vector<int64_t> group_seen_;
  std::vector<int64_t> group_correct_;
};

}  // namespace dmx::classifier
