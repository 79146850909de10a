#include "sampling/beam_search.h"

#include <cmath>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/sampling/test_util.h"

namespace tandem::sampling {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kEos = 2;

BeamSearchOptions TwoBeams() {
  BeamSearchOptions o;
  o.num_beams = 2;
  o.num_return_sequences = 2;
  o.eos_token_ids = {kEos};
  o.max_new_tokens = 2;
  return o;
}

// Vocabulary {0, 1, EOS=2}. Step 1 from one beam: log [0.5, 0.3, 0.2]; EOS is
// ranked 3rd (>= num_beams) and is skipped. Step 2: beam [0] -> [0.1, 0.1,
// 0.8], beam [1] -> [0.6, 0.25, 0.15]. Candidates: [0,EOS] 0.4 (finished),
// [1,0] 0.18, [1,1] 0.075. With length penalty 1, finished scores are
// log(0.4)/2 = -0.458, log(0.18)/2 = -0.857, log(0.075)/2 = -1.295.
TEST(BeamSearchTest, HandComputedTwoStepSearch) {
  const BeamSearchOptions o = TwoBeams();
  BeamHypotheses hyps(o);
  std::vector<Beam> beams = {Beam{}};
  auto step1 = BeamSearchStep(beams, testing::LogRow({0.5, 0.3, 0.2}), o, hyps);
  ASSERT_TRUE(step1.ok()) << step1.status();
  ASSERT_EQ(step1->size(), 2u);
  EXPECT_THAT((*step1)[0].tokens, ElementsAre(0));
  EXPECT_THAT((*step1)[1].tokens, ElementsAre(1));
  EXPECT_EQ(hyps.size(), 0u);

  at::Tensor lp = at::cat({testing::LogRow({0.1, 0.1, 0.8}),
                           testing::LogRow({0.6, 0.25, 0.15})});
  auto step2 = BeamSearchStep(*step1, lp, o, hyps);
  ASSERT_TRUE(step2.ok());
  ASSERT_EQ(step2->size(), 2u);
  EXPECT_THAT((*step2)[0].tokens, ElementsAre(1, 0));
  EXPECT_EQ((*step2)[0].parent, 1);
  EXPECT_NEAR((*step2)[0].sum_logprobs, std::log(0.18), 1e-6);
  EXPECT_THAT((*step2)[1].tokens, ElementsAre(1, 1));
  EXPECT_EQ(hyps.size(), 1u);

  // max_new_tokens reached: finalize with the live beams.
  std::vector<Hypothesis> best = FinalizeBeamSearch(*step2, o, hyps);
  ASSERT_EQ(best.size(), 2u);
  EXPECT_THAT(best[0].tokens, ElementsAre(0, kEos));
  EXPECT_NEAR(best[0].score, std::log(0.4) / 2, 1e-6);
  EXPECT_THAT(best[1].tokens, ElementsAre(1, 0));
  EXPECT_NEAR(best[1].score, std::log(0.18) / 2, 1e-6);
}

// The same search with token 0 after token 1 declared final (a stop string):
// step 2's candidate [1,0] (ranked 2nd, < num_beams) becomes a hypothesis like
// [0,EOS], and the live beams are filled from the next candidates instead:
// [1,1] 0.075, then a 0.05 child of [0].
TEST(BeamSearchTest, EndsHypothesisActsLikeEos) {
  BeamSearchOptions o = TwoBeams();
  std::vector<std::vector<int64_t>> asked;
  o.ends_hypothesis = [&](const std::vector<int64_t>& tokens) {
    asked.push_back(tokens);
    return tokens == std::vector<int64_t>{1, 0};
  };
  BeamHypotheses hyps(o);
  auto step1 = BeamSearchStep({Beam{}}, testing::LogRow({0.5, 0.3, 0.2}), o, hyps);
  ASSERT_TRUE(step1.ok());
  at::Tensor lp = at::cat({testing::LogRow({0.1, 0.1, 0.8}),
                           testing::LogRow({0.6, 0.25, 0.15})});
  auto step2 = BeamSearchStep(*step1, lp, o, hyps);
  ASSERT_TRUE(step2.ok());
  EXPECT_EQ(hyps.size(), 2u);  // [0,EOS] and [1,0].
  ASSERT_EQ(step2->size(), 2u);
  EXPECT_THAT((*step2)[0].tokens, ElementsAre(1, 1));
  // Then [0,0] or [0,1] (tied at 0.05): a child of beam [0].
  EXPECT_EQ((*step2)[1].parent, 0);
  EXPECT_NEAR((*step2)[1].sum_logprobs, std::log(0.05), 1e-6);
  std::vector<Hypothesis> best = FinalizeBeamSearch(*step2, o, hyps);
  ASSERT_EQ(best.size(), 2u);
  EXPECT_THAT(best[0].tokens, ElementsAre(0, kEos));
  EXPECT_THAT(best[1].tokens, ElementsAre(1, 0));
  EXPECT_FALSE(asked.empty());
}

TEST(BeamHypothesesTest, LengthPenaltyAndCapacity) {
  BeamSearchOptions o = TwoBeams();
  o.length_penalty = 2.0;
  BeamHypotheses hyps(o);
  EXPECT_NEAR(hyps.Score(-8.0, 2), -2.0, 1e-12);
  hyps.Add({1, 2}, -8.0);      // -2
  hyps.Add({1, 1, 2}, -9.0);   // -1
  hyps.Add({0, 2}, -12.0);     // -3: worse than both, dropped
  auto sorted = hyps.Sorted();
  ASSERT_EQ(sorted.size(), 2u);
  EXPECT_NEAR(sorted[0].score, -1.0, 1e-12);
  EXPECT_NEAR(sorted[1].score, -2.0, 1e-12);
}

TEST(BeamHypothesesTest, EarlyStoppingModes) {
  BeamSearchOptions o = TwoBeams();
  o.max_new_tokens = 10;
  for (EarlyStopping mode : {EarlyStopping::kTrue, EarlyStopping::kHeuristic,
                             EarlyStopping::kNever}) {
    o.early_stopping = mode;
    BeamHypotheses hyps(o);
    hyps.Add({0, 2}, -1.0);  // score -0.5
    EXPECT_FALSE(hyps.IsDone(-0.1, 2)) << "fewer than num_beams finished";
    hyps.Add({1, 2}, -2.0);  // score -1.0 (worst)
    // A live beam at sum -3 and length 2 scores -1.5 now; at length 10, -0.3.
    const bool done = hyps.IsDone(-3.0, 2);
    switch (mode) {
      case EarlyStopping::kTrue: EXPECT_TRUE(done); break;
      case EarlyStopping::kHeuristic: EXPECT_TRUE(done); break;
      case EarlyStopping::kNever: EXPECT_FALSE(done); break;
    }
    // A live beam that could still beat the worst: not done unless kTrue.
    EXPECT_EQ(hyps.IsDone(-1.0, 2), mode == EarlyStopping::kTrue);
  }
}

TEST(BeamSearchTest, ValidatesOptionsAndShapes) {
  BeamSearchOptions o = TwoBeams();
  o.num_return_sequences = 3;
  EXPECT_THAT(ValidateBeamSearchOptions(o).message(),
              HasSubstr("num_return_sequences"));
  o = TwoBeams();
  o.num_beams = 0;
  EXPECT_THAT(ValidateBeamSearchOptions(o).message(), HasSubstr("num_beams"));
  o = TwoBeams();
  BeamHypotheses hyps(o);
  std::vector<Beam> beams = {Beam{}, Beam{}, Beam{}};
  EXPECT_FALSE(BeamSearchStep(beams, at::zeros({3, 3}), o, hyps).ok());
}

}  // namespace
}  // namespace tandem::sampling
