// TreeShapePolicy: trees where the target's extra rows are cheap, chains
// where they cost more than the alternatives' measured acceptance returns,
// probes that keep β current, and a fixed shape when not adaptive.
#include "decoding/tree_shape_policy.h"

#include <vector>

#include <gtest/gtest.h>

namespace tandem::decoding {
namespace {

// A chain policy that has seen `rounds` rounds at γ with α accepted, on a
// target whose k rows cost base + per_row·(k − 1) seconds.
DraftLengthPolicy Chain(double alpha, double base, double per_row, int gamma = 3,
                        int rounds = 40) {
  DraftLengthPolicy p(gamma, 8, /*adaptive=*/false, 0);
  std::vector<float> marginal;
  for (int k = 1; k <= 9; ++k) marginal.push_back(static_cast<float>(base + per_row * (k - 1)));
  for (int r = 0; r < rounds; ++r) {
    // α of the drafts accepted on average (deterministic rounding).
    const int accepted = static_cast<int>(alpha * gamma * (r + 1)) - static_cast<int>(alpha * gamma * r);
    p.Update(gamma, accepted, absl::Microseconds(300), absl::Milliseconds(2), marginal);
  }
  return p;
}

TEST(TreeShapePolicyTest, NotAdaptiveAlwaysDraftsTheTreeCutToGamma) {
  TreeShapePolicy p({2, 3}, /*adaptive=*/false);
  const DraftLengthPolicy chain = Chain(0.7, 2e-3, 5e-4);
  EXPECT_EQ(p.Next(2, chain).alternatives, 2);
  EXPECT_EQ(p.Next(2, chain).depth, 2);
  EXPECT_EQ(p.Next(0, chain).alternatives, 0);
  TreeShapePolicy none({0, 3}, false);
  EXPECT_EQ(none.Next(4, chain).alternatives, 0);
}

TEST(TreeShapePolicyTest, CheapRowsAndUsefulAlternativesGiveTrees) {
  // A GPU-like target: a row costs 1% of a step.
  const DraftLengthPolicy chain = Chain(0.6, 2e-3, 2e-5);
  TreeShapePolicy p({1, 2}, /*adaptive=*/true);
  for (int r = 0; r < 20; ++r) {
    const TreeShape s = p.Next(3, chain);
    EXPECT_EQ(s.alternatives, 1) << "round " << r;
    EXPECT_EQ(s.depth, 2);
    p.Update(true, r % 2 == 0);  // β = 0.5.
  }
}

TEST(TreeShapePolicyTest, ExpensiveRowsNeverGiveTrees) {
  // This CPU: past 3 rows each row costs ~30% of a step; 2 more rows cannot
  // pay back even if every alternative hit.
  const DraftLengthPolicy chain = Chain(0.75, 2e-3, 6e-4);
  TreeShapePolicy p({1, 2}, /*adaptive=*/true);
  for (int r = 0; r < 300; ++r) EXPECT_EQ(p.Next(3, chain).alternatives, 0) << "round " << r;
}

TEST(TreeShapePolicyTest, UselessAlternativesAreProbedRarely) {
  // Rows cheap enough to pay for β ≥ ~0.3, but the alternatives never hit.
  const DraftLengthPolicy chain = Chain(0.6, 2e-3, 1.5e-4);
  TreeShapePolicy p({1, 2}, /*adaptive=*/true);
  int trees = 0;
  for (int r = 0; r < 400; ++r) {
    const TreeShape s = p.Next(3, chain);
    if (s.alternatives > 0) {
      ++trees;
      p.Update(true, false);
    }
  }
  EXPECT_LT(p.alternative_rate(), 0.2);  // Below the prior's 0.3.
  EXPECT_GT(trees, 0);    // It did try.
  EXPECT_LT(trees, 30);   // ... and then only probes, ever rarer.
}

TEST(TreeShapePolicyTest, NoLoadSignalNoTree) {
  DraftLengthPolicy chain(3, 8, false, 0);
  TreeShapePolicy p({1, 2}, /*adaptive=*/true);
  EXPECT_EQ(p.Next(3, chain).alternatives, 0);
}

}  // namespace
}  // namespace tandem::decoding
