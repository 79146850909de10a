#include "tests/testing/statistics.h"

#include <cmath>

#include <gtest/gtest.h>

namespace tandem::testing {
namespace {

// Reference values from published chi-square tables.
TEST(ChiSquareSurvivalTest, MatchesTableCriticalValues) {
  EXPECT_NEAR(ChiSquareSurvival(3.841459, 1), 0.05, 1e-6);
  EXPECT_NEAR(ChiSquareSurvival(16.918978, 9), 0.05, 1e-6);
  EXPECT_NEAR(ChiSquareSurvival(27.877165, 9), 0.001, 1e-7);
  EXPECT_NEAR(ChiSquareSurvival(37.697299, 15), 0.001, 1e-7);
  EXPECT_NEAR(ChiSquareSurvival(2.0, 2), std::exp(-1.0), 1e-12);
}

// The degrees of freedom of the e2e joint-of-three tests (up to ~250), on both
// sides of x = a + 1 (series vs continued fraction). Reference values from
// scipy.stats.chi2.sf (SciPy 1.10).
TEST(ChiSquareSurvivalTest, MatchesScipyAtManyDegreesOfFreedom) {
  EXPECT_NEAR(ChiSquareSurvival(149.449, 100), 0.0010000462217732505, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(267.541, 200), 0.0009999343900932468, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(300.0, 250), 0.016518273157868715, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(180.0, 250), 0.9997214238747563, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(60.0, 100), 0.999481108537452, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(0.5, 1), 0.47950012218695337, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(40.0, 12), 7.190884052842894e-05, 1e-15);
}

TEST(ChiSquareTestTest, PerfectFitHasPValueOne) {
  GoodnessOfFit fit = ChiSquareTest({250, 250, 500}, {0.25, 0.25, 0.5});
  EXPECT_DOUBLE_EQ(fit.statistic, 0.0);
  EXPECT_EQ(fit.dof, 2);
  EXPECT_NEAR(fit.p_value, 1.0, 1e-12);
}

TEST(ChiSquareTestTest, DetectsWrongDistributionAndImpossibleBins) {
  GoodnessOfFit fit = ChiSquareTest({600, 400, 7}, {0.5, 0.5, 0.0});
  EXPECT_LT(fit.p_value, 1e-6);
  EXPECT_EQ(fit.impossible, 7);
  EXPECT_EQ(fit.dof, 1);
}

TEST(ChiSquareTestTest, PoolsRareBins) {
  // One observation where 0.01 were expected would alone give chi2 ~ 98.
  GoodnessOfFit fit =
      ChiSquareTest({499, 500, 1}, {0.49999, 0.49999, 0.00002});
  EXPECT_EQ(fit.dof, 1);
  EXPECT_GT(fit.p_value, 0.5);
}

}  // namespace
}  // namespace tandem::testing
