#include "bench/speedup/metrics.h"

#include <cmath>

#include "gtest/gtest.h"

namespace tandem::bench {
namespace {

TEST(Metrics, LeviathanMatchesTheDocExamples) {
  // docs: alpha=0.8, c=0.05 -> gamma*=8, 3.09x; alpha=0.7, c=0.1 -> gamma*=4, 1.98x.
  EXPECT_NEAR(LeviathanSpeedup(0.8, 8, 0.05), 3.09, 0.01);
  EXPECT_NEAR(LeviathanSpeedup(0.7, 4, 0.1), 1.98, 0.01);
  EXPECT_DOUBLE_EQ(LeviathanSpeedup(0.5, 0, 0.3), 1.0);
  EXPECT_DOUBLE_EQ(RefinedSpeedup(0.8, 8, 0.05, 1.0), LeviathanSpeedup(0.8, 8, 0.05));
  EXPECT_DOUBLE_EQ(ExpectedTokensPerRound(1.0, 4), 5.0);
}

TEST(Metrics, AcceptanceMleAndConditional) {
  std::vector<RoundRecord> rounds(4);
  rounds[0].drafted = 4; rounds[0].accepted = 4;  // all accepted: 4 successes
  rounds[1].drafted = 4; rounds[1].accepted = 1;  // 1 success, 1 failure
  rounds[2].drafted = 4; rounds[2].accepted = 0;  // 1 failure
  rounds[3].drafted = 0; rounds[3].accepted = 0;  // plain step: ignored
  AcceptanceSummary s = SummarizeAcceptance(rounds);
  EXPECT_EQ(s.rounds, 3);
  EXPECT_EQ(s.accepted, 5);
  EXPECT_EQ(s.rejections, 2);
  EXPECT_NEAR(s.alpha_mle, 5.0 / 7.0, 1e-12);
  ASSERT_EQ(s.conditional_at.size(), 4u);
  EXPECT_EQ(s.reached_at[0], 3);
  EXPECT_NEAR(s.conditional_at[0], 2.0 / 3.0, 1e-12);
  EXPECT_EQ(s.reached_at[1], 2);
  EXPECT_NEAR(s.conditional_at[1], 0.5, 1e-12);
  EXPECT_EQ(s.reached_at[3], 1);
  EXPECT_NEAR(s.conditional_at[3], 1.0, 1e-12);
}

TEST(Metrics, PercentilesAndInterTokenLatency) {
  EXPECT_DOUBLE_EQ(Percentile({}, 50), 0.0);
  EXPECT_DOUBLE_EQ(Percentile({3, 1, 2}, 50), 2.0);
  EXPECT_DOUBLE_EQ(Percentile({1, 2, 3, 4}, 100), 4.0);
  std::vector<double> itl = InterTokenLatencies({0.1, 0.4, 0.5}, {2, 3, 1});
  ASSERT_EQ(itl.size(), 4u);
  EXPECT_NEAR(itl[0], 0.1, 1e-12);
  EXPECT_NEAR(itl[3], 0.1, 1e-12);
}

}  // namespace
}  // namespace tandem::bench
