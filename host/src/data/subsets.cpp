#include "diffmix/data/subsets.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "diffmix/data/sample_rng.hpp"
#include "diffmix/error.hpp"

namespace dmx::data {
namespace {

std::vector<std::vector<int64_t>> indices_by_class(const Dataset& dataset) {
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(dataset.num_classes()));
  for (int64_t i = 0; i < dataset.size(); ++i) by_class[static_cast<size_t>(dataset.label(i))].push_back(i);
  return by_class;
}

// `count` indices of `pool` drawn without replacement; the draw for class c depends only on (seed, c).
std::vector<int64_t> draw(std::vector<int64_t> pool, int64_t count, uint64_t seed, int64_t class_index) {
  SampleRng rng(seed, RandomStream::Subset, 0, static_cast<uint64_t>(class_index));
  const auto take = static_cast<size_t>(std::min<int64_t>(count, static_cast<int64_t>(pool.size())));
  // Partial Fisher–Yates: the first `take` positions end up a uniform sample.
  for (size_t i = 0; i < take; ++i) std::swap(pool[i], pool[i + rng.below(pool.size() - i)]);
  pool.resize(take);
  return pool;
}

std::vector<int64_t> select(const Dataset& dataset, const std::vector<int64_t>& counts, uint64_t seed) {
  const auto by_class = indices_by_class(dataset);
  std::vector<int64_t> chosen;
  for (size_t c = 0; c < by_class.size(); ++c) {
    const auto picked = draw(by_class[c], counts[c], seed, static_cast<int64_t>(c));
    chosen.insert(chosen.end(), picked.begin(), picked.end());
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

std::vector<int64_t> k_shot_indices(const Dataset& dataset, int64_t k, uint64_t seed) {
  if (k <= 0) {
    std::vector<int64_t> all(static_cast<size_t>(dataset.size()));
    std::iota(all.begin(), all.end(), 0);
    return all;
  }
  return select(dataset, std::vector<int64_t>(static_cast<size_t>(dataset.num_classes()), k), seed);
}

std::shared_ptr<Subset> k_shot_subset(DatasetPtr dataset, int64_t k, uint64_t seed) {
  auto indices = k_shot_indices(*dataset, k, seed);
  const std::string description =
      k <= 0 ? "all shots" : std::to_string(k) + "-shot seed " + std::to_string(seed);
  return std::make_shared<Subset>(std::move(dataset), std::move(indices), description);
}

std::vector<int64_t> classes_by_count(const std::vector<int64_t>& class_counts) {
  std::vector<int64_t> order(class_counts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return class_counts[static_cast<size_t>(a)] > class_counts[static_cast<size_t>(b)];
  });
  return order;
}

std::vector<int64_t> long_tail_counts(const std::vector<int64_t>& class_counts, double imbalance) {
  if (!(imbalance >= 1.0))
    throw invalid_argument("long-tail imbalance factor ρ = " + format_number(imbalance) + " must be >= 1");
  const auto num_classes = static_cast<int64_t>(class_counts.size());
  if (num_classes == 0) return {};
  const double mean_count =
      static_cast<double>(std::accumulate(class_counts.begin(), class_counts.end(), int64_t{0})) /
      static_cast<double>(num_classes);
  const std::vector<int64_t> order = classes_by_count(class_counts);
  std::vector<int64_t> targets(class_counts.size(), 0);
  for (int64_t rank = 0; rank < num_classes; ++rank) {
    // k / (N − 2), not the printed k / (N − 1): the authors' code divides by N − 2, and only that gives their CUB-LT
    // sizes (1,242 / 1,798 / 2,238 images at ρ = 100 / 20 / 10).
    const double exponent =
        num_classes > 2 ? static_cast<double>(rank) / static_cast<double>(num_classes - 2) : (rank > 0 ? 1.0 : 0.0);
    const auto wanted = std::max<int64_t>(static_cast<int64_t>(std::floor(mean_count * std::pow(1.0 / imbalance,
                                                                                                  exponent))),
                                          1);
    const auto c = static_cast<size_t>(order[static_cast<size_t>(rank)]);
    targets[c] = std::min(wanted, class_counts[c]);
  }
  return targets;
}

std::vector<int64_t> long_tail_indices(const Dataset& dataset, double imbalance, uint64_t seed) {
  return select(dataset, long_tail_counts(dataset.class_counts(), imbalance), seed);
}

std::shared_ptr<Subset> long_tail_subset(DatasetPtr dataset, double imbalance, uint64_t seed) {
  auto indices = long_tail_indices(*dataset, imbalance, seed);
  const std::string description = "long-tail rho " + format_number(imbalance) + " seed " + std::to_string(seed);
  return std::make_shared<Subset>(std::move(dataset), std::move(indices), description);
}

}  // namespace dmx::data
