#include "diffmix/classifier/paired_difference.hpp"

#include <algorithm>

#include "diffmix/error.hpp"

namespace dmx::classifier {

double student_t_975(int64_t degrees_of_freedom) {
  static const double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                 2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (degrees_of_freedom < 1)
    throw invalid_argument("Student's t needs at least 1 degree of freedom, got " + std::to_string(degrees_of_freedom));
  if (degrees_of_freedom <= 30) return table[degrees_of_freedom - 1];
  // The expansion of t in 1/ν around the normal quantile z (Abramowitz & Stegun 26.7.5), two terms: within 0.001 of
  // the exact quantile above 30 degrees of freedom.
  const double z = 1.959964;
  const double nu = static_cast<double>(degrees_of_freedom);
  const double z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4.0 * nu) + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * nu * nu);
}

PairedDifference paired_difference(const std::vector<double>& setup, const std::vector<double>& baseline) {
  PairedDifference result;
  result.pairs = static_cast<int64_t>(std::min(setup.size(), baseline.size()));
  if (result.pairs == 0) return result;
  const auto n = static_cast<double>(result.pairs);
  for (int64_t r = 0; r < result.pairs; ++r) result.mean += (setup[r] - baseline[r]) / n;
  if (result.pairs < 2) return result;
  double squares = 0;
  for (int64_t r = 0; r < result.pairs; ++r) {
    const double deviation = setup[r] - baseline[r] - result.mean;
    squares += deviation * deviation;
  }
  const double half_width = student_t_975(result.pairs - 1) * std::sqrt(squares / (n - 1.0)) / std::sqrt(n);
  result.low = result.mean - half_width;
  result.high = result.mean + half_width;
  return result;
}

}  // namespace dmx::classifier
