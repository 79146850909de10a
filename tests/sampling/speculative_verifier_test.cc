// Exactness of speculative verification: the emitted tokens are distributed as
// the target's own sampling (chi-square goodness of fit, significance 0.001,
// 100k rounds, vocabulary <= 16), for adversarial target/draft pairs and with
// the sampling processors applied; greedy verification is token-exact.

#include "sampling/speculative_verifier.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sampling/sampling_params.h"
#include "sampling/testing/planted_verifier_bug.h"
#include "tests/sampling/test_util.h"
#include "tests/testing/statistics.h"

namespace tandem::sampling {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using tandem::testing::ChiSquareTest;
using tandem::testing::GoodnessOfFit;

const int kRounds = tandem::testing::StatRounds(100000);
constexpr double kSignificance = 1e-3;

using Dist = std::vector<double>;

enum class DraftForm { kDense, kSparse, kOneHot, kNone };

using testing::RandomDist;
using testing::ToLogits;

// q rows -> draft tokens drawn from q (argmax for one-hot; fixed for kNone)
// and their DraftDistribution in the requested form.
struct Draft {
  std::vector<int64_t> tokens;
  std::vector<DraftDistribution> dists;
};

Draft MakeDraft(const std::vector<Dist>& q, DraftForm form,
                const std::vector<int64_t>& fixed, std::mt19937_64& gen) {
  Draft d;
  for (size_t i = 0; i < q.size(); ++i) {
    int64_t x;
    if (form == DraftForm::kNone) {
      x = fixed[i];
    } else if (form == DraftForm::kOneHot) {
      x = std::max_element(q[i].begin(), q[i].end()) - q[i].begin();
    } else {
      std::discrete_distribution<int64_t> pick(q[i].begin(), q[i].end());
      x = pick(gen);
    }
    d.tokens.push_back(x);
    switch (form) {
      case DraftForm::kNone: d.dists.push_back(DraftDistribution::None()); break;
      case DraftForm::kOneHot: d.dists.push_back(DraftDistribution::OneHot()); break;
      case DraftForm::kDense:
      case DraftForm::kSparse: {
        at::Tensor probs = at::empty({static_cast<int64_t>(q[i].size())});
        for (size_t v = 0; v < q[i].size(); ++v) probs[v] = static_cast<float>(q[i][v]);
        d.dists.push_back(form == DraftForm::kDense ? DraftDistribution::Dense(probs)
                                                    : PackDraftDistribution(probs));
        break;
      }
    }
  }
  return d;
}

struct Counts {
  std::vector<int64_t> first;   // first emitted token
  std::vector<int64_t> second;  // second emitted token, when there is one
  int64_t accepted = 0;
};

// Runs kRounds verifications of drafts from q against target rows p.
Counts Simulate(const std::vector<Dist>& p, const std::vector<Dist>& q,
                DraftForm form, const std::vector<int64_t>& fixed = {}) {
  const int vocab = static_cast<int>(p[0].size());
  const at::Tensor target = ToLogits(p);
  std::mt19937_64 draft_gen(1234);
  Rng rng(99);
  Counts c{std::vector<int64_t>(vocab), std::vector<int64_t>(vocab), 0};
  for (int round = 0; round < kRounds; ++round) {
    Draft d = MakeDraft(q, form, fixed, draft_gen);
    // Each round decides fresh positions (as a sequence's rounds do).
    auto r = VerifyDraft(target, d.tokens, d.dists, VerifyOptions{}, rng, round * 64);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return c;
    const size_t emitted = r->emitted.size();
    EXPECT_GE(emitted, 1u);
    EXPECT_LE(emitted, d.tokens.size() + 1);
    EXPECT_EQ(emitted, static_cast<size_t>(r->num_accepted) + 1);
    ++c.first[r->emitted[0].token];
    if (emitted >= 2) ++c.second[r->emitted[1].token];
    c.accepted += r->num_accepted;
  }
  return c;
}

void ExpectFits(const std::vector<int64_t>& counts, const Dist& expected,
                const char* what) {
  GoodnessOfFit fit = ChiSquareTest(counts, expected);
  EXPECT_GT(fit.p_value, kSignificance) << what << ": " << fit.ToString();
  EXPECT_EQ(fit.impossible, 0) << what << ": " << fit.ToString();
}

void ExpectExact(const std::vector<Dist>& p, const std::vector<Dist>& q,
                 DraftForm form, const std::vector<int64_t>& fixed = {}) {
  Counts c = Simulate(p, q, form, fixed);
  ExpectFits(c.first, p[0], "first emitted token");
  if (p.size() > 2) ExpectFits(c.second, p[1], "second emitted token");
}

const Dist kP = {0.30, 0.20, 0.15, 0.10, 0.08, 0.07, 0.06, 0.04};

TEST(SpeculativeExactnessTest, EqualDistributionsAcceptEverything) {
  const std::vector<Dist> p = {kP, kP, kP};
  Counts c = Simulate(p, {kP, kP}, DraftForm::kDense);
  EXPECT_EQ(c.accepted, 2 * kRounds);
  ExpectFits(c.first, kP, "first");
  ExpectFits(c.second, kP, "second");
}

TEST(SpeculativeExactnessTest, DisjointSupports) {
  const Dist p = {0.4, 0.3, 0.2, 0.1, 0, 0, 0, 0};
  const Dist q = {0, 0, 0, 0, 0.25, 0.25, 0.25, 0.25};
  Counts c = Simulate({p, p, p}, {q, q}, DraftForm::kSparse);
  EXPECT_EQ(c.accepted, 0);
  ExpectFits(c.first, p, "first");
}

TEST(SpeculativeExactnessTest, OneHotGreedyDraft) {
  const Dist q = {0.1, 0.5, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05};
  const Dist p2 = {0.05, 0.05, 0.5, 0.1, 0.1, 0.1, 0.05, 0.05};
  ExpectExact({kP, p2, kP}, {q, q}, DraftForm::kOneHot);
}

TEST(SpeculativeExactnessTest, NGramDraftWithoutDistribution) {
  const Dist p2 = {0.05, 0.05, 0.5, 0.1, 0.1, 0.1, 0.05, 0.05};
  ExpectExact({kP, p2, kP}, {kP, kP}, DraftForm::kNone, /*fixed=*/{0, 3});
}

TEST(SpeculativeExactnessTest, UniformDraft) {
  const Dist uniform(8, 1.0 / 8);
  const Dist p2 = {0.6, 0.1, 0.1, 0.1, 0.1, 0, 0, 0};
  ExpectExact({kP, p2, kP}, {uniform, uniform}, DraftForm::kDense);
}

TEST(SpeculativeExactnessTest, RandomPairsDenseAndSparse) {
  std::mt19937_64 gen(2024);
  for (int trial = 0; trial < 3; ++trial) {
    const int vocab = 12 + 2 * trial;
    std::vector<Dist> p, q;
    for (int i = 0; i < 4; ++i) p.push_back(RandomDist(gen, vocab, 1.5));
    for (int i = 0; i < 3; ++i) q.push_back(RandomDist(gen, vocab, 1.5));
    ExpectExact(p, q, trial % 2 == 0 ? DraftForm::kDense : DraftForm::kSparse);
  }
}

// The statistic has power: an "always accept" verifier emits draft tokens
// (distributed as q) and is rejected on the same pair.
// Negative controls through the same path: VerifyDraft with a planted bug
// (sampling/testing/planted_verifier_bug.h) over the same simulation and the
// same chi-square must be rejected.
class PlantedBugTest : public ::testing::TestWithParam<internal::VerifierFault> {};

TEST_P(PlantedBugTest, TheHarnessRejectsAVerifierWithAPlantedBug) {
  const Dist q = {0.05, 0.05, 0.1, 0.1, 0.15, 0.15, 0.2, 0.2};
  Counts c;
  {
    testing::ScopedPlantedVerifierBug bug(GetParam());
    c = Simulate({kP, kP}, {q}, DraftForm::kDense);
  }
  GoodnessOfFit fit = ChiSquareTest(c.first, kP);
  EXPECT_LT(fit.p_value, kSignificance) << fit.ToString();
  // And without the bug the same run passes.
  ExpectExact({kP, kP}, {q}, DraftForm::kDense);
}

INSTANTIATE_TEST_SUITE_P(
    Faults, PlantedBugTest,
    ::testing::Values(internal::VerifierFault::kInvertedAcceptRatio,
                      internal::VerifierFault::kResidualWithoutClamp),
    [](const ::testing::TestParamInfo<internal::VerifierFault>& info) {
      return info.param == internal::VerifierFault::kInvertedAcceptRatio
                 ? std::string("inverted_accept_ratio")
                 : std::string("residual_without_clamp");
    });

struct ProcessedCase {
  const char* name;
  SamplingParams params;
};

SamplingParams With(void (*set)(SamplingParams&)) {
  SamplingParams p;
  set(p);
  return p;
}

class ProcessedExactnessTest : public ::testing::TestWithParam<ProcessedCase> {};

// Raw target and draft logits go through the same processors (each side its
// own); the emitted tokens follow the PROCESSED target distribution.
TEST_P(ProcessedExactnessTest, EmitsTheProcessedTargetDistribution) {
  std::mt19937_64 gen(77);
  const int vocab = 16;
  std::vector<Dist> raw_p, raw_q;
  for (int i = 0; i < 3; ++i) raw_p.push_back(RandomDist(gen, vocab, 1.2));
  for (int i = 0; i < 2; ++i) raw_q.push_back(RandomDist(gen, vocab, 1.2));
  auto selector = TokenSelector::Create(GetParam().params);
  ASSERT_TRUE(selector.ok());
  auto no_history = testing::NoHistory(3);
  auto target = (*selector)->Process(no_history, ToLogits(raw_p));
  ASSERT_TRUE(target.ok());
  auto two = testing::NoHistory(2);
  auto draft = (*selector)->Process(two, ToLogits(raw_q));
  ASSERT_TRUE(draft.ok());
  std::vector<Dist> p, q;
  for (int i = 0; i < 3; ++i) p.push_back(testing::Softmax((*target)[i]));
  for (int i = 0; i < 2; ++i) q.push_back(testing::Softmax((*draft)[i]));
  ExpectExact(p, q, DraftForm::kSparse);
}

INSTANTIATE_TEST_SUITE_P(
    Processors, ProcessedExactnessTest,
    ::testing::Values(
        ProcessedCase{"temperature", With([](SamplingParams& p) { p.temperature = 0.6; })},
        ProcessedCase{"top_k", With([](SamplingParams& p) { p.top_k = 4; })},
        ProcessedCase{"top_p", With([](SamplingParams& p) { p.top_p = 0.7; })},
        ProcessedCase{"min_p", With([](SamplingParams& p) { p.min_p = 0.15; })},
        ProcessedCase{"balanced_preset", PresetParams(Preset::kBalanced)}),
    [](const ::testing::TestParamInfo<ProcessedCase>& info) { return info.param.name; });

// History-dependent processing: q_i and p_i are computed on prefix + x_<i at
// each draft position, on both sides, as target-only decoding would.
TEST(HistoryDependentExactnessTest, RepetitionPenaltyPerDraftPosition) {
  SamplingParams params;
  params.repetition_penalty = 1.8;
  params.temperature = 0.9;
  auto selector = TokenSelector::Create(params);
  ASSERT_TRUE(selector.ok());
  std::mt19937_64 gen(31);
  const int vocab = 10;
  std::vector<Dist> raw_p, raw_q;
  for (int i = 0; i < 3; ++i) raw_p.push_back(RandomDist(gen, vocab, 1.0));
  for (int i = 0; i < 2; ++i) raw_q.push_back(RandomDist(gen, vocab, 1.0));
  const at::Tensor target_raw = ToLogits(raw_p);
  const at::Tensor draft_raw = ToLogits(raw_q);
  const std::vector<int64_t> prefix_tokens = {3, 5, 3};
  const TokenHistory prefix{prefix_tokens, 1};

  // Expected: p_1 after the prefix; p_2 after prefix + a for a fixed a.
  auto expected_rows = ProcessDraftPositions(**selector, prefix, {0, 1}, target_raw);
  ASSERT_TRUE(expected_rows.ok());
  const Dist p1 = testing::Softmax((*expected_rows)[0]);
  const int64_t a = std::max_element(p1.begin(), p1.end()) - p1.begin();
  auto given_a = ProcessDraftPositions(**selector, prefix, {a, 0}, target_raw);
  ASSERT_TRUE(given_a.ok());
  const Dist p2_given_a = testing::Softmax((*given_a)[1]);

  Rng rng(5);
  std::vector<int64_t> first(vocab), second(vocab);
  for (int round = 0; round < kRounds; ++round) {
    std::vector<int64_t> drafts;
    std::vector<DraftDistribution> dists;
    std::vector<int64_t> history = prefix_tokens;
    for (int i = 0; i < 2; ++i) {
      std::vector<TokenHistory> h = {{history, 1}};
      auto processed = (*selector)->Process(h, draft_raw.narrow(0, i, 1));
      ASSERT_TRUE(processed.ok());
      const Dist q = testing::Softmax(*processed);
      std::discrete_distribution<int64_t> pick(q.begin(), q.end());
      drafts.push_back(pick(gen));
      dists.push_back(PackDraftDistribution(processed->softmax(-1)[0]));
      history.push_back(drafts.back());
    }
    auto target = ProcessDraftPositions(**selector, prefix, drafts, target_raw);
    ASSERT_TRUE(target.ok());
    auto r = VerifyDraft(*target, drafts, dists, VerifyOptions{}, rng, round * 64);
    ASSERT_TRUE(r.ok()) << r.status();
    ++first[r->emitted[0].token];
    if (r->emitted.size() >= 2 && r->emitted[0].token == a) {
      ++second[r->emitted[1].token];
    }
  }
  ExpectFits(first, p1, "first emitted token");
  ExpectFits(second, p2_given_a, "second emitted token given the first");
}

at::Tensor ArgmaxRows(const std::vector<int64_t>& argmax, int vocab) {
  at::Tensor t = at::zeros({static_cast<int64_t>(argmax.size()), vocab});
  for (size_t r = 0; r < argmax.size(); ++r) t[r][argmax[r]] = 5.0f;
  return t;
}

std::vector<int64_t> Tokens(const VerifyResult& r) {
  std::vector<int64_t> out;
  for (const StepResult& s : r.emitted) out.push_back(s.token);
  return out;
}

TEST(GreedyVerifyTest, AllAcceptedPlusBonus) {
  Rng rng(1);
  auto r = VerifyDraft(ArgmaxRows({3, 5, 1}, 8), {3, 5}, {},
                       VerifyOptions{/*greedy=*/true}, rng, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->num_accepted, 2);
  EXPECT_THAT(Tokens(*r), ElementsAre(3, 5, 1));
}

TEST(GreedyVerifyTest, FirstPositionMismatchEmitsTargetArgmax) {
  Rng rng(1);
  auto r = VerifyDraft(ArgmaxRows({3, 5, 1}, 8), {4, 5}, {},
                       VerifyOptions{/*greedy=*/true}, rng, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->num_accepted, 0);
  EXPECT_THAT(Tokens(*r), ElementsAre(3));
}

TEST(GreedyVerifyTest, MidDraftMismatch) {
  Rng rng(1);
  auto r = VerifyDraft(ArgmaxRows({3, 5, 1, 2}, 8), {3, 6, 1}, {},
                       VerifyOptions{/*greedy=*/true}, rng, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->num_accepted, 1);
  EXPECT_THAT(Tokens(*r), ElementsAre(3, 5));
}

TEST(GreedyVerifyTest, EmptyDraftIsOneTargetStep) {
  Rng rng(1);
  auto r = VerifyDraft(ArgmaxRows({6}, 8), {}, {}, VerifyOptions{true, 2}, rng, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->num_accepted, 0);
  EXPECT_THAT(Tokens(*r), ElementsAre(6));
  EXPECT_EQ(r->emitted[0].top.size(), 2u);
}

TEST(VerifyPropertiesTest, EmitsOneToGammaPlusOneWithAcceptedPrefix) {
  std::mt19937_64 gen(8);
  Rng rng(8);
  for (int trial = 0; trial < 300; ++trial) {
    const int gamma = trial % 9;
    std::vector<Dist> p, q;
    for (int i = 0; i <= gamma; ++i) p.push_back(RandomDist(gen, 6, 2.0));
    for (int i = 0; i < gamma; ++i) q.push_back(RandomDist(gen, 6, 2.0));
    Draft d = MakeDraft(q, trial % 3 == 0 ? DraftForm::kSparse : DraftForm::kDense,
                        {}, gen);
    const bool greedy = trial % 4 == 0;
    auto r = VerifyDraft(ToLogits(p), d.tokens, d.dists, VerifyOptions{greedy}, rng, trial * 16);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_GE(r->emitted.size(), 1u);
    ASSERT_LE(r->emitted.size(), static_cast<size_t>(gamma) + 1);
    for (int i = 0; i < r->num_accepted; ++i) {
      EXPECT_EQ(r->emitted[i].token, d.tokens[i]);
    }
  }
}

TEST(VerifyPropertiesTest, SameSeedSameResult) {
  std::mt19937_64 gen(3);
  std::vector<Dist> p, q;
  for (int i = 0; i < 5; ++i) p.push_back(RandomDist(gen, 10, 1.0));
  for (int i = 0; i < 4; ++i) q.push_back(RandomDist(gen, 10, 1.0));
  Draft d = MakeDraft(q, DraftForm::kDense, {}, gen);
  for (int trial = 0; trial < 20; ++trial) {
    Rng a(trial), b(trial);
    auto ra = VerifyDraft(ToLogits(p), d.tokens, d.dists, {}, a, 7);
    auto rb = VerifyDraft(ToLogits(p), d.tokens, d.dists, {}, b, 7);
    ASSERT_TRUE(ra.ok() && rb.ok());
    EXPECT_EQ(Tokens(*ra), Tokens(*rb));
  }
}

TEST(VerifyErrorsTest, RejectsMalformedInput) {
  Rng rng(1);
  const at::Tensor p = ToLogits({kP, kP});
  // Wrong number of rows.
  EXPECT_THAT(VerifyDraft(p, {1, 2}, {DraftDistribution::None(), DraftDistribution::None()},
                          {}, rng, 0).status().message(),
              HasSubstr("shape [3, vocab]"));
  // Draft token outside the vocabulary.
  EXPECT_THAT(VerifyDraft(p, {8}, {DraftDistribution::None()}, {}, rng, 0).status().message(),
              HasSubstr("outside the vocabulary"));
  // Missing distributions.
  EXPECT_THAT(VerifyDraft(p, {1}, {}, {}, rng, 0).status().message(),
              HasSubstr("0 draft distributions"));
  // A drafted token its own distribution gives no mass.
  EXPECT_THAT(VerifyDraft(p, {1}, {DraftDistribution::Sparse({0}, {1.0f})}, {}, rng, 0)
                  .status().message(),
              HasSubstr("zero probability"));
  // Sparse ids outside the vocabulary.
  EXPECT_EQ(VerifyDraft(p, {1}, {DraftDistribution::Sparse({1, 99}, {0.5f, 0.5f})}, {}, rng, 0)
                .status().code(),
            absl::StatusCode::kInvalidArgument);
  // Dense of the wrong size.
  EXPECT_EQ(VerifyDraft(p, {1}, {DraftDistribution::Dense(at::ones({3}))}, {}, rng, 0)
                .status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PackDraftDistributionTest, SparseWhenCheaperDenseOtherwiseLossless) {
  at::Tensor truncated = at::zeros({100});
  truncated[3] = 0.25f;
  truncated[40] = 0.75f;
  DraftDistribution sparse = PackDraftDistribution(truncated);
  EXPECT_EQ(sparse.kind, DraftDistribution::Kind::kSparse);
  EXPECT_THAT(sparse.ids, ElementsAre(3, 40));
  EXPECT_THAT(sparse.probs, ElementsAre(0.25f, 0.75f));
  DraftDistribution dense = PackDraftDistribution(at::full({100}, 0.01f));
  EXPECT_EQ(dense.kind, DraftDistribution::Kind::kDense);
  EXPECT_TRUE(at::equal(dense.dense, at::full({100}, 0.01f)));
}

}  // namespace
}  // namespace tandem::sampling
