#include "decoding/beam_draft_policy.h"

#include <gtest/gtest.h>

namespace tandem::decoding {
namespace {

// A simulated search: a pass costs base + per_row · rows (+ draft per draft
// step); a tree of depth D lets the search take 1 + min(D, covered) steps.
struct Sim {
  double base, per_row, draft;
  int covered;  // Depth through which every tree holds the target's beams.
  int beams = 4;

  int Run(BeamDraftPolicy& policy, int passes) {
    int last = -1;
    for (int i = 0; i < passes; ++i) {
      const int d = policy.Next(beams);
      const int64_t tokens = static_cast<int64_t>(beams) * d;
      const double seconds = base + per_row * (beams + tokens);
      policy.Record(d, beams + tokens, tokens, absl::Seconds(draft * d), absl::Seconds(seconds),
                    1 + std::min(d, covered));
      last = d;
    }
    return last;
  }
};

TEST(BeamDraftPolicyTest, FixedAlwaysDraftsTheMost) {
  BeamDraftPolicy policy(3, /*adaptive=*/false);
  Sim sim{0.005, 0.001, 0.002, 0};
  EXPECT_EQ(sim.Run(policy, 20), 3);
}

TEST(BeamDraftPolicyTest, DraftsDeepWhenRowsAreCheapAndTreesHold) {
  // A GPU-like target: rows nearly free, a cheap draft, trees that hold.
  BeamDraftPolicy policy(4, true);
  EXPECT_EQ(policy.Next(4), 1);  // The first pass: depth 1.
  Sim sim{0.010, 0.00001, 0.0005, 4};
  EXPECT_EQ(sim.Run(policy, 60), 4);
  EXPECT_GT(policy.Coverage(4), 0.9);
}

TEST(BeamDraftPolicyTest, BacksOffWhenRowsCostAsMuchAsTheyBuy) {
  // This CPU: each row costs ~a tenth of a pass, trees hold one step in four.
  BeamDraftPolicy policy(4, true);
  Sim sim{0.004, 0.0009, 0.0025, 0};
  int plain = 0, probes = 0;
  sim.Run(policy, 4);  // Learn.
  for (int i = 0; i < 64; ++i) {
    const int d = sim.Run(policy, 1);
    plain += d == 0;
    probes += d == 1;
  }
  EXPECT_GE(plain, 56);
  // It keeps probing, less and less often, so it notices when drafting
  // starts to pay.
  EXPECT_GE(probes, 2);
  EXPECT_LE(probes, 64 / BeamDraftPolicy::kProbeEvery);
}

TEST(BeamDraftPolicyTest, ComesBackWhenDraftingStartsToPay) {
  BeamDraftPolicy policy(2, true);
  Sim bad{0.004, 0.0009, 0.0025, 0};
  bad.Run(policy, 40);
  EXPECT_EQ(policy.Next(4) <= 1, true);
  Sim good{0.010, 0.00001, 0.0002, 2};
  EXPECT_EQ(good.Run(policy, 80), 2);
}

TEST(BeamDraftPolicyTest, PassSecondsFollowsTheRowsLine) {
  BeamDraftPolicy policy(2, true);
  EXPECT_EQ(policy.PassSeconds(4), 0);
  EXPECT_EQ(policy.StepsPerSecond(1, 4), 0);
  for (int i = 0; i < 10; ++i) {
    policy.Record(0, 4, 0, absl::ZeroDuration(), absl::Milliseconds(4 + 4), 1);
    policy.Record(1, 12, 8, absl::Milliseconds(1), absl::Milliseconds(4 + 12), 1);
  }
  EXPECT_NEAR(policy.PassSeconds(4), 0.008, 1e-6);
  EXPECT_NEAR(policy.PassSeconds(20), 0.024, 1e-6);
  EXPECT_LT(policy.Coverage(1), 0.2);
}

}  // namespace
}  // namespace tandem::decoding
