// How far a set-up is from the baseline, and how sure that is: the runs of a comparison are paired by seed (the same
// seed gives both the same data split and initialisation), so the difference is estimated from the per-seed
// differences, with the 95 % confidence interval of their mean from Student's t with n − 1 degrees of freedom.
//
//   const auto d = dmx::classifier::paired_difference({0.80, 0.82, 0.81}, {0.78, 0.80, 0.80});
//   // d.mean 0.0167, d.low 0.0023, d.high 0.0310: d.excludes_zero()
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace dmx::classifier {

struct PairedDifference {
  int64_t pairs = 0;
  double mean = 0;               // mean of setup[r] − baseline[r]
  double low = std::nan("");     // the 95 % interval; NaN with fewer than 2 pairs
  double high = std::nan("");
  bool excludes_zero() const { return !std::isnan(low) && (low > 0 || high < 0); }
};

// Pairs setup[r] with baseline[r] for r below the shorter length.
PairedDifference paired_difference(const std::vector<double>& setup, const std::vector<double>& baseline);

// The 0.975 quantile of Student's t (two-sided 95 %): the tabulated value to three decimals up to 30 degrees of
// freedom, then an expansion around the normal quantile that stays within 0.001.
double student_t_975(int64_t degrees_of_freedom);

}  // namespace dmx::classifier
