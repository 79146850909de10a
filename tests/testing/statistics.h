#ifndef TANDEM_TESTS_TESTING_STATISTICS_H_
#define TANDEM_TESTS_TESTING_STATISTICS_H_

// Goodness-of-fit helpers for statistical tests of samplers.

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::testing {

// Regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a).
double RegularizedUpperGamma(double a, double x);

// P(X >= statistic) for X ~ chi-square with `dof` degrees of freedom.
double ChiSquareSurvival(double statistic, int dof);

struct GoodnessOfFit {
  double statistic = 0.0;
  int dof = 0;
  double p_value = 1.0;
  // Observations in a bin whose expected probability is zero (must be 0 for
  // an exact sampler; the chi-square statistic cannot see them).
  int64_t impossible = 0;
  std::string ToString() const;
};

// Pearson's chi-square test of `counts` against `expected` probabilities
// (which must sum to ~1). Bins expecting fewer than 5 observations are pooled.
// Bins with expected probability 0 are excluded from the statistic and
// reported in `impossible`.
GoodnessOfFit ChiSquareTest(const std::vector<int64_t>& counts,
                            const std::vector<double>& expected);

// Number of samples a statistical test draws: `default_rounds`, or
// $TANDEM_STAT_ROUNDS when set (sanitizer builds, which run the samplers 5-10x
// slower, set it in .bazelrc; docs/build.md). Clamped to [10000,
// default_rounds]; the chi-square tests stay calibrated at any size, only
// their power drops. Prints the reduced count to stderr so the test log says so.
int StatRounds(int default_rounds);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_TESTING_STATISTICS_H_
