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
