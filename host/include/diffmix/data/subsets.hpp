// Seeded selections of a dataset: k-shot subsets and long-tail subsets (eq. 4 of the Diff-Mix supplementary).
//
// Both are pure functions of (dataset, parameters, seed): the same seed picks the same images on every machine.
#pragma once

#include <cstdint>
#include <vector>

#include "diffmix/data/dataset.hpp"

namespace dmx::data {

// k images per class, chosen uniformly without replacement with `seed`; a class with fewer than k keeps all of them.
// k <= 0 keeps everything. Indices are returned sorted.
std::vector<int64_t> k_shot_indices(const Dataset& dataset, int64_t k, uint64_t seed);
std::shared_ptr<Subset> k_shot_subset(DatasetPtr dataset, int64_t k, uint64_t seed);

// Eq. 4: with classes ranked by count, descending (ties by class index), the class at rank k keeps
//   n_k = max(floor(n̄ · (1/ρ)^(k/(N−2))), 1)     (N − 2 as the authors' code: it gives their CUB-LT sizes)
// images, n̄ being the mean count per class; never more than the class has. Returns the target count per class,
// indexed by class (not by rank). ρ >= 1; ρ = 1 keeps min(n̄, count) everywhere.
std::vector<int64_t> long_tail_counts(const std::vector<int64_t>& class_counts, double imbalance);

// Samples long_tail_counts(...) images per class with `seed`. Indices are returned sorted.
std::vector<int64_t> long_tail_indices(const Dataset& dataset, double imbalance, uint64_t seed);
std::shared_ptr<Subset> long_tail_subset(DatasetPtr dataset, double imbalance, uint64_t seed);

// Classes ordered by count, descending; ties by class index. Rank 0 is the head class.
std::vector<int64_t> classes_by_count(const std::vector<int64_t>& class_counts);

}  // namespace dmx::data
