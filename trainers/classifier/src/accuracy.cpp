#include "diffmix/classifier/accuracy.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include "diffmix/error.hpp"

namespace dmx::classifier {

AccuracyCounter::AccuracyCounter(int64_t num_classes)
    : num_classes_(num_classes), class_seen_(num_classes, 0), class_correct_(num_classes, 0) {}

AccuracyCounter::AccuracyCounter(int64_t num_classes, const std::vector<int64_t>* group_of, int64_t num_groups)
    : AccuracyCounter(num_classes) {
  group_of_ = group_of;
  group_seen_.assign(static_cast<size_t>(num_groups), 0);
  group_correct_.assign(static_cast<size_t>(num_groups), 0);
}

void AccuracyCounter::add(const at::Tensor& logits, const at::Tensor& targets) {
  const at::Tensor classes = targets.dim() == 2 ? targets.argmax(1) : targets;
  if (logits.dim() != 2 || logits.size(1) != num_classes_ || classes.dim() != 1 || classes.size(0) != logits.size(0)) {
    std::ostringstream message;
    message << "accuracy needs logits N×" << num_classes_ << " and N targets, got logits " << logits.sizes()
            << " and targets " << targets.sizes();
    throw shape_error(message.str());
  }
  const at::Tensor predicted = logits.argmax(1).to(at::kCPU, at::kLong).contiguous();
  const at::Tensor truth = classes.to(at::kCPU, at::kLong).contiguous();
  const int64_t* p = predicted.data_ptr<int64_t>();
  const int64_t* t = truth.data_ptr<int64_t>();
  for (int64_t i = 0; i < truth.size(0); ++i) {
    if (t[i] < 0 || t[i] >= num_classes_)
      throw invalid_argument("accuracy: target class " + std::to_string(t[i]) + " outside [0, " +
                             std::to_string(num_classes_) + ")");
    const bool hit = p[i] == t[i];
    if (group_of_) {
      const auto n = static_cast<size_t>(next_sample_);
      const int64_t group = n < group_of_->size() ? (*group_of_)[n] : -1;
      if (group < 0 || group >= static_cast<int64_t>(group_seen_.size()))
        throw invalid_argument("accuracy: sample " + std::to_string(n) + " has no group (" +
                               std::to_string(group_of_->size()) + " samples have one)");
      ++group_seen_[group];
      group_correct_[group] += hit;
    }
    ++seen_;
    ++next_sample_;
    ++class_seen_[t[i]];
    correct_ += hit;
    class_correct_[t[i]] += hit;
  }
}

at::Tensor AccuracyCounter::counts() const {
  std::vector<int64_t> all{seen_, correct_};
  for (const auto* part : {&class_seen_, &class_correct_, &group_seen_, &group_correct_})
    all.insert(all.end(), part->begin(), part->end());
  return at::tensor(all, at::kLong);
}

void AccuracyCounter::set_counts(const at::Tensor& counts) {
  const auto expected = static_cast<int64_t>(2 + 2 * class_seen_.size() + 2 * group_seen_.size());
  if (counts.dim() != 1 || counts.size(0) != expected)
    throw shape_error("accuracy: counts of " + std::to_string(counts.numel()) + " values for a counter of " +
                      std::to_string(expected));
  const at::Tensor values = counts.to(at::kCPU, at::kLong).contiguous();
  const int64_t* v = values.data_ptr<int64_t>();
  seen_ = *v++;
  correct_ = *v++;
  for (auto* part : {&class_seen_, &class_correct_, &group_seen_, &group_correct_})
    for (auto& count : *part) count = *v++;
}

double AccuracyCounter::top1() const { return seen_ ? static_cast<double>(correct_) / seen_ : 0.0; }

std::vector<double> AccuracyCounter::per_class() const {
  std::vector<double> result(num_classes_, std::numeric_limits<double>::quiet_NaN());
  for (int64_t k = 0; k < num_classes_; ++k)
    if (class_seen_[k]) result[k] = static_cast<double>(class_correct_[k]) / class_seen_[k];
  return result;
}

std::vector<double> AccuracyCounter::per_group() const {
  std::vector<double> result(group_seen_.size(), std::numeric_limits<double>::quiet_NaN());
  for (size_t g = 0; g < group_seen_.size(); ++g)
    if (group_seen_[g]) result[g] = static_cast<double>(group_correct_[g]) / group_seen_[g];
  return result;
}

double AccuracyCounter::mean_per_class() const {
  double sum = 0.0;
  int64_t classes = 0;
  for (double value : per_class())
    if (!std::isnan(value)) sum += value, ++classes;
  return classes ? sum / classes : 0.0;
}

}  // namespace dmx::classifier
