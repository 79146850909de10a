// StepCostModel: interpolation through the origin and the measured row
// counts, extrapolation past them, marginal costs against other rows, and
// decayed means. Expected values are computed by hand from the hinge curve
// T(R) = max(2, 0.5 R) ms (memory-bound to 4 rows, compute-bound after).

#include "decoding/step_cost_model.h"

#include <cmath>
#include <map>

#include <gtest/gtest.h>

namespace tandem::decoding {
namespace {

double HingeMs(int rows) { return std::max(2.0, 0.5 * rows); }

StepCostModel Hinge() {
  StepCostModel m;
  for (int rows : {1, 2, 4, 8, 16, 32}) m.Record(rows, absl::Microseconds(1000 * HingeMs(rows)));
  return m;
}

TEST(StepCostModelTest, EmptyUntilAStepIsRecorded) {
  StepCostModel m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.Seconds(3), 0);
  EXPECT_TRUE(m.Marginal(0, 9).empty());
  m.Record(0, absl::Milliseconds(5));  // No rows: ignored.
  EXPECT_TRUE(m.empty());
}

TEST(StepCostModelTest, InterpolatesAndExtrapolates) {
  const StepCostModel m = Hinge();
  EXPECT_NEAR(m.Seconds(1), 2e-3, 1e-9);
  EXPECT_NEAR(m.Seconds(3), 2e-3, 1e-9);     // Between 2 (2 ms) and 4 (2 ms).
  EXPECT_NEAR(m.Seconds(12), 6e-3, 1e-9);    // Between 8 (4 ms) and 16 (8 ms).
  EXPECT_NEAR(m.Seconds(48), 24e-3, 1e-9);   // Past 32: slope of the last two points.
  EXPECT_EQ(m.Seconds(0), 0);
}

TEST(StepCostModelTest, MarginalAloneIsTheStepAndInAFullStepIsTheRowsCompute) {
  const StepCostModel m = Hinge();
  const std::vector<float> alone = m.Marginal(0, 9);
  ASSERT_EQ(alone.size(), 9u);
  EXPECT_NEAR(alone[0], 2e-3, 1e-7);  // The first row pays the whole step.
  EXPECT_NEAR(alone[2], 2e-3, 1e-7);  // Three rows: still memory-bound.
  EXPECT_NEAR(alone[7], 4e-3, 1e-7);  // Eight rows: T(8).
  const std::vector<float> shared = m.Marginal(16, 9);  // Beside 16 other rows.
  for (int j = 1; j <= 9; ++j) EXPECT_NEAR(shared[j - 1], 0.5e-3 * j, 1e-7) << j;
  // Speculating γ = 2 beside 16 rows costs 3 rows; alone it costs 1 step.
  EXPECT_GT(shared[2] / shared[0], 2.9);
  EXPECT_LT(alone[2] / alone[0], 1.01);
}

// Only 1-row steps seen (one plain stream): a further row is taken to cost
// kPriorRowShare of the step, not a whole step, so a request still sees
// that drafting may pay and the first drafted round measures it. With only
// large steps seen (a busy server), per-row cost stays T(R)/R.
TEST(StepCostModelTest, OneMeasuredRowCountExtrapolatesWithAPriorNotProportionally) {
  StepCostModel alone;
  alone.Record(1, absl::Milliseconds(2));
  EXPECT_NEAR(alone.Seconds(1), 2e-3, 1e-9);
  EXPECT_NEAR(alone.Seconds(3), 2.4e-3, 1e-9);  // 2 ms + 2 × 0.1 × 2 ms.
  const std::vector<float> m = alone.Marginal(0, 3);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_LT(m[1] / m[0], 1.2) << "two rows alone must not look like two steps";
  StepCostModel busy;
  busy.Record(32, absl::Milliseconds(16));  // 0.5 ms per row.
  const std::vector<float> shared = busy.Marginal(32, 3);
  ASSERT_EQ(shared.size(), 3u);
  for (int j = 1; j <= 3; ++j) EXPECT_NEAR(shared[j - 1], 0.5e-3 * j, 1e-7) << j;
}

// A busy server's means at neighbouring large row counts are noisy: here
// 40 rows measured slower than 48. Interpolating would make rows beside 41
// others look free (T falls from 40 to 48); the least-squares line over
// the neighbourhood (0.5 ms per row with ±3 ms of noise) does not.
TEST(StepCostModelTest, BesideManyRowsTheMarginalIsTheNeighbourhoodsSlope) {
  StepCostModel m;
  const std::map<int, double> ms = {{24, 12 + 3}, {32, 16 - 3}, {40, 20 + 3}, {48, 24 - 3},
                                    {56, 28 + 3}, {64, 32 - 3}, {72, 36 + 3}, {80, 40 - 3}};
  for (const auto& [rows, t] : ms) m.Record(rows, absl::Microseconds(1000 * t));
  const std::vector<float> shared = m.Marginal(41, 3);
  ASSERT_EQ(shared.size(), 3u);
  EXPECT_NEAR(shared[0], 0.5e-3, 0.2e-3);
  EXPECT_NEAR(shared[1] / shared[0], 2.0, 1e-3) << "each row costs the same";
  // The control: the plain difference T(42) − T(41) inside a falling
  // segment is zero.
  EXPECT_EQ(std::max(0.0, m.Seconds(42) - m.Seconds(41)), 0.0);
}

TEST(StepCostModelTest, MarginalsNeverDecreaseAndMeansDecay) {
  StepCostModel m;
  m.Record(1, absl::Milliseconds(3));
  m.Record(2, absl::Milliseconds(2));  // Noise: fewer ms for more rows.
  const std::vector<float> marginal = m.Marginal(0, 4);
  for (size_t j = 1; j < marginal.size(); ++j) EXPECT_GE(marginal[j], marginal[j - 1]);
  m.Record(1, absl::Milliseconds(13));
  EXPECT_NEAR(m.Seconds(1), (0.9 * 3 + 0.1 * 13) * 1e-3, 1e-9);
}

}  // namespace
}  // namespace tandem::decoding

namespace tandem::decoding {
namespace {

TEST(BusyFractionTest, TracksTheShareOfTimeInSteps) {
  BusyFraction b;
  EXPECT_EQ(b.fraction(), 1.0);  // Unknown: assume saturated.
  absl::Time t = absl::UnixEpoch();
  // 1 ms steps with 3 ms gaps: busy 25% of the time.
  for (int i = 0; i < 400; ++i) {
    b.Record(t, t + absl::Milliseconds(1));
    t += absl::Milliseconds(4);
  }
  EXPECT_NEAR(b.fraction(), 0.25, 0.01);
  // Back to back: saturated.
  for (int i = 0; i < 400; ++i) {
    b.Record(t, t + absl::Milliseconds(1));
    t += absl::Milliseconds(1);
  }
  EXPECT_NEAR(b.fraction(), 1.0, 0.01);
}

// RowShare: a lone session's share of others is 0 however many steps it
// runs; 4 sessions stepping one after another (never together) each see
// others fill ~(1 − (1 − λ) / (1 − λ⁴)) ≈ 0.71 of the rows; beside a 40-row
// prefill in one step, a 1-row session sees ~0.98.
TEST(RowShareTest, CountsOtherSessionsRowsWithinAndAcrossSteps) {
  RowShare share;
  RowShare::Session alone;
  EXPECT_EQ(share.OthersShare(alone), 0.0);
  for (int i = 0; i < 50; ++i) {
    share.Step(3);
    share.Add(alone, 3);
    EXPECT_NEAR(share.OthersShare(alone), 0.0, 1e-9) << i;
  }
  RowShare round_robin;
  RowShare::Session s[4];
  for (int i = 0; i < 200; ++i) {
    round_robin.Step(2);
    round_robin.Add(s[i % 4], 2);
  }
  const double expected = 1 - (1 - RowShare::kDecay) / (1 - std::pow(RowShare::kDecay, 4));
  EXPECT_NEAR(round_robin.OthersShare(s[3]), expected, 1e-6) << "just stepped";
  EXPECT_GT(round_robin.OthersShare(s[0]), expected) << "three steps ago: less of its own";
  RowShare mixed;
  RowShare::Session decode, prefill;
  mixed.Step(41);
  mixed.Add(decode, 1);
  mixed.Add(prefill, 40);
  EXPECT_NEAR(mixed.OthersShare(decode), 40.0 / 41, 1e-9);
}

}  // namespace
}  // namespace tandem::decoding
