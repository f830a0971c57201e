// k-shot and long-tail (eq. 4) selections: exact counts, seeded, reproducible.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "diffmix/data/shot_groups.hpp"
#include "diffmix/data/subsets.hpp"
#include "diffmix/error.hpp"

namespace {

// Labels only: images are never loaded by the selection code.
class LabelOnly : public dmx::data::Dataset {
 public:
  explicit LabelOnly(std::vector<int64_t> counts) {
    for (size_t c = 0; c < counts.size(); ++c) {
      names_.push_back("class" + std::to_string(c));
      for (int64_t i = 0; i < counts[c]; ++i) labels_.push_back(static_cast<int64_t>(c));
    }
    // Interleave classes so that index order says nothing about class.
    std::vector<int64_t> shuffled;
    for (size_t stride = 0; stride < 7; ++stride)
      for (size_t i = stride; i < labels_.size(); i += 7) shuffled.push_back(labels_[i]);
    labels_ = shuffled;
  }
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t label(int64_t i) const override { return labels_.at(static_cast<size_t>(i)); }
  at::Tensor load_image(int64_t, const dmx::data::ImageRequest&) const override { return at::zeros({1, 1, 3}); }
  const std::vector<std::string>& class_names() const override { return names_; }
  const std::string& metaclass() const override { return metaclass_; }
  const std::string& name() const override { return name_; }
  std::string describe(int64_t i) const override { return "sample " + std::to_string(i); }

 private:
  std::vector<int64_t> labels_;
  std::vector<std::string> names_;
  std::string metaclass_ = "thing", name_ = "labels";
};

std::vector<int64_t> counts_of(const dmx::data::Dataset& d, const std::vector<int64_t>& indices) {
  std::vector<int64_t> counts(static_cast<size_t>(d.num_classes()), 0);
  for (const int64_t i : indices) ++counts[static_cast<size_t>(d.label(i))];
  return counts;
}

TEST(KShot, KeepsExactlyKPerClassAndAllOfSmallerClasses) {
  const LabelOnly data({20, 3, 12});
  for (const int64_t k : {1, 5, 10}) {
    const auto indices = dmx::data::k_shot_indices(data, k, 42);
    EXPECT_EQ(counts_of(data, indices), (std::vector<int64_t>{k, std::min<int64_t>(k, 3), k}));
    EXPECT_TRUE(std::is_sorted(indices.begin(), indices.end()));
    EXPECT_EQ(std::adjacent_find(indices.begin(), indices.end()), indices.end());  // no duplicates
  }
  EXPECT_EQ(dmx::data::k_shot_indices(data, 0, 42).size(), 35u);  // 0: all
}

TEST(KShot, SameSeedSameImagesOtherSeedOtherImages) {
  const LabelOnly data({50, 50, 50});
  EXPECT_EQ(dmx::data::k_shot_indices(data, 5, 1), dmx::data::k_shot_indices(data, 5, 1));
  EXPECT_NE(dmx::data::k_shot_indices(data, 5, 1), dmx::data::k_shot_indices(data, 5, 2));
}

TEST(KShot, SubsetViewMapsToBaseSamples) {
  auto base = std::make_shared<LabelOnly>(std::vector<int64_t>{10, 10});
  const auto subset = dmx::data::k_shot_subset(base, 2, 3);
  ASSERT_EQ(subset->size(), 4);
  for (int64_t i = 0; i < subset->size(); ++i)
    EXPECT_EQ(subset->label(i), base->label(subset->indices()[static_cast<size_t>(i)]));
  EXPECT_NE(subset->name().find("2-shot"), std::string::npos);
  EXPECT_THROW(subset->label(4), dmx::Error);
}

TEST(LongTail, CountsFollowEquationFourExactly) {
  // 10 classes of 100: n_k = floor(100 · 0.1^(k/8)), the authors' N − 2 (the tail class falls below n̄/ρ).
  const std::vector<int64_t> expected = {100, 74, 56, 42, 31, 23, 17, 13, 10, 7};
  EXPECT_EQ(dmx::data::long_tail_counts(std::vector<int64_t>(10, 100), 10.0), expected);
  // Independent evaluation of the formula for ρ ∈ {100, 50, 10}, N = 200, n̄ = 30 (CUB-like): exponent k / 198.
  for (const double rho : {100.0, 50.0, 10.0}) {
    const auto counts = dmx::data::long_tail_counts(std::vector<int64_t>(200, 30), rho);
    for (int k = 0; k < 200; ++k) {
      const auto want = std::max<int64_t>(static_cast<int64_t>(std::floor(30.0 * std::pow(1.0 / rho, k / 198.0))), 1);
      ASSERT_EQ(counts[static_cast<size_t>(k)], want) << "rho " << rho << " rank " << k;
    }
  }
}

TEST(LongTail, ReproducesTheSizesOfCubLt) {
  // CUB-200-2011's training split: 5,994 images, 194 classes of 30 and 6 of 29.
  std::vector<int64_t> cub(200, 30);
  for (int c = 0; c < 6; ++c) cub[static_cast<size_t>(c)] = 29;
  const auto total = [&](double rho) {
    const auto counts = dmx::data::long_tail_counts(cub, rho);
    return std::accumulate(counts.begin(), counts.end(), int64_t{0});
  };
  EXPECT_EQ(total(100.0), 1242);
  EXPECT_EQ(total(20.0), 1798);
  EXPECT_EQ(total(10.0), 2238);
}

TEST(LongTail, RanksClassesByCountDescendingAndNeverExceedsAClass) {
  // n̄ = 30; ranks: class 2 (50), 3 (40), 0 (30), 4 (20), 1 (10); ρ = 100 → 30, 6, 1, 1, 1.
  EXPECT_EQ(dmx::data::long_tail_counts({30, 10, 50, 40, 20}, 100.0), (std::vector<int64_t>{1, 1, 30, 6, 1}));
  // ρ = 1 keeps n̄ where a class has that many, and what it has otherwise.
  EXPECT_EQ(dmx::data::long_tail_counts({30, 10, 50, 40, 20}, 1.0), (std::vector<int64_t>{30, 10, 30, 30, 20}));
  EXPECT_THROW(dmx::data::long_tail_counts({3, 3}, 0.5), dmx::Error);
}

TEST(LongTail, IndicesMatchTheCountsAndTheSeed) {
  const LabelOnly data(std::vector<int64_t>(10, 100));
  const auto indices = dmx::data::long_tail_indices(data, 10.0, 7);
  EXPECT_EQ(counts_of(data, indices), dmx::data::long_tail_counts(data.class_counts(), 10.0));
  EXPECT_EQ(indices, dmx::data::long_tail_indices(data, 10.0, 7));
  EXPECT_NE(indices, dmx::data::long_tail_indices(data, 10.0, 8));
}

}  // namespace

// ---- Many / Medium / Few ----------------------------------------------------------------------------------------

TEST(ShotGroups, ThresholdsAreTheAuthorsAndBoundsAreMedium) {
  const auto cub = dmx::data::paper_shot_thresholds("cub");
  EXPECT_EQ(dmx::data::shot_group(21, cub), dmx::data::ShotGroup::Many);
  EXPECT_EQ(dmx::data::shot_group(20, cub), dmx::data::ShotGroup::Medium);
  EXPECT_EQ(dmx::data::shot_group(5, cub), dmx::data::ShotGroup::Medium);
  EXPECT_EQ(dmx::data::shot_group(4, cub), dmx::data::ShotGroup::Few);
  const auto flowers = dmx::data::paper_shot_thresholds("flowers102");
  EXPECT_EQ(flowers.many, 30);
  EXPECT_EQ(flowers.few, 10);
}

// Each group's figure is the mean of its classes' accuracies; a class without test images is left out of the mean.
TEST(ShotGroups, AccuracyIsTheMeanOverEachGroupsClasses) {
  const double none = std::nan("");
  const auto groups = dmx::data::shot_group_accuracy({40, 25, 10, 12, 2, 3}, {0.9, 0.7, 0.5, none, 0.2, 0.1},
                                                     dmx::data::paper_shot_thresholds("cub"));
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].group, dmx::data::ShotGroup::Many);
  EXPECT_EQ(groups[0].classes, 2);
  EXPECT_DOUBLE_EQ(groups[0].accuracy, 0.8);
  EXPECT_EQ(groups[1].classes, 2);
  EXPECT_DOUBLE_EQ(groups[1].accuracy, 0.5);
  EXPECT_EQ(groups[2].classes, 2);
  EXPECT_NEAR(groups[2].accuracy, 0.15, 1e-12);
  EXPECT_TRUE(std::isnan(dmx::data::shot_group_accuracy({1}, {none}, {})[2].accuracy));
}
