// Each processor on small hand-computable distributions, to 1e-5.

#include <cmath>
#include <limits>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sampling/constraints.h"
#include "sampling/logits_processor.h"
#include "sampling/penalties.h"
#include "sampling/warpers.h"
#include "tests/sampling/test_util.h"

namespace tandem::sampling {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::LogRow;
using testing::NoHistory;
using testing::Row;
using testing::Softmax;
using testing::ToVector;

constexpr double kTol = 1e-5;
constexpr float kInf = std::numeric_limits<float>::infinity();
const std::vector<double> kProbs = {0.5, 0.25, 0.15, 0.1};

template <typename P>
std::vector<double> ApplyToProbs(const P& processor,
                                 const std::vector<double>& probs) {
  at::Tensor logits = LogRow(probs);
  auto histories = NoHistory();
  absl::Status s = processor.Process(histories, logits);
  EXPECT_TRUE(s.ok()) << s;
  return Softmax(logits);
}

TEST(TemperatureTest, SharpensAndFlattens) {
  auto t2 = TemperatureProcessor::Create(2.0);
  ASSERT_TRUE(t2.ok());
  // p^(1/2), renormalised.
  const double z = std::sqrt(0.5) + std::sqrt(0.25) + std::sqrt(0.15) +
                   std::sqrt(0.1);
  EXPECT_THAT(ApplyToProbs(**t2, kProbs),
              ElementsAre(DoubleNear(std::sqrt(0.5) / z, kTol),
                          DoubleNear(std::sqrt(0.25) / z, kTol),
                          DoubleNear(std::sqrt(0.15) / z, kTol),
                          DoubleNear(std::sqrt(0.1) / z, kTol)));
  auto half = TemperatureProcessor::Create(0.5);
  ASSERT_TRUE(half.ok());
  const double z2 = 0.25 + 0.0625 + 0.0225 + 0.01;
  EXPECT_THAT(ApplyToProbs(**half, kProbs),
              ElementsAre(DoubleNear(0.25 / z2, kTol),
                          DoubleNear(0.0625 / z2, kTol),
                          DoubleNear(0.0225 / z2, kTol),
                          DoubleNear(0.01 / z2, kTol)));
}

TEST(TemperatureTest, RejectsNonPositiveOrNonFinite) {
  EXPECT_THAT(TemperatureProcessor::Create(0.0).status().message(),
              HasSubstr("temperature"));
  EXPECT_FALSE(TemperatureProcessor::Create(-1.0).ok());
  EXPECT_FALSE(TemperatureProcessor::Create(std::nan("")).ok());
  EXPECT_FALSE(TemperatureProcessor::Create(INFINITY).ok());
}

TEST(TopKTest, KeepsKMostLikely) {
  auto k2 = TopKProcessor::Create(2);
  ASSERT_TRUE(k2.ok());
  EXPECT_THAT(ApplyToProbs(**k2, kProbs),
              ElementsAre(DoubleNear(2.0 / 3, kTol), DoubleNear(1.0 / 3, kTol),
                          DoubleNear(0, kTol), DoubleNear(0, kTol)));
}

TEST(TopKTest, KeepsTiesAndLargeKIsNoOp) {
  auto k2 = TopKProcessor::Create(2);
  ASSERT_TRUE(k2.ok());
  EXPECT_THAT(ApplyToProbs(**k2, {0.4, 0.2, 0.2, 0.2}),
              ElementsAre(DoubleNear(0.4, kTol), DoubleNear(0.2, kTol),
                          DoubleNear(0.2, kTol), DoubleNear(0.2, kTol)));
  auto k9 = TopKProcessor::Create(9);
  ASSERT_TRUE(k9.ok());
  EXPECT_THAT(ApplyToProbs(**k9, kProbs),
              ElementsAre(DoubleNear(0.5, kTol), DoubleNear(0.25, kTol),
                          DoubleNear(0.15, kTol), DoubleNear(0.1, kTol)));
}

TEST(TopKTest, RejectsNonPositiveK) {
  EXPECT_THAT(TopKProcessor::Create(0).status().message(), HasSubstr("top_k"));
  EXPECT_FALSE(TopKProcessor::Create(-3).ok());
}

TEST(TopPTest, KeepsSmallestPrefixReachingP) {
  auto p70 = TopPProcessor::Create(0.7);
  ASSERT_TRUE(p70.ok());
  EXPECT_THAT(ApplyToProbs(**p70, kProbs),
              ElementsAre(DoubleNear(2.0 / 3, kTol), DoubleNear(1.0 / 3, kTol),
                          DoubleNear(0, kTol), DoubleNear(0, kTol)));
  auto p80 = TopPProcessor::Create(0.8);
  ASSERT_TRUE(p80.ok());
  EXPECT_THAT(ApplyToProbs(**p80, kProbs),
              ElementsAre(DoubleNear(0.5 / 0.9, kTol),
                          DoubleNear(0.25 / 0.9, kTol),
                          DoubleNear(0.15 / 0.9, kTol), DoubleNear(0, kTol)));
}

TEST(TopPTest, AlwaysKeepsTheMostLikelyToken) {
  auto tiny = TopPProcessor::Create(0.01);
  ASSERT_TRUE(tiny.ok());
  EXPECT_THAT(ApplyToProbs(**tiny, kProbs),
              ElementsAre(DoubleNear(1, kTol), DoubleNear(0, kTol),
                          DoubleNear(0, kTol), DoubleNear(0, kTol)));
}

// Large vocabularies take the top-256 fast path; its kept set must equal a
// full sort's (computed here directly on a peaked random distribution, and
// on a flat one where the nucleus exceeds 256 tokens and the full sort runs).
TEST(TopPTest, LargeVocabularyMatchesFullSort) {
  at::Generator gen = at::detail::createCPUGenerator(3);
  for (double spread : {4.0, 0.01}) {
    at::Tensor logits = at::normal(0.0, spread, {3, 5000}, gen).to(at::kFloat);
    auto top_p = TopPProcessor::Create(0.9);
    ASSERT_TRUE(top_p.ok());
    at::Tensor processed = logits.clone();
    auto h = NoHistory(3);
    ASSERT_TRUE((*top_p)->Process(h, processed).ok());
    for (int r = 0; r < 3; ++r) {
      auto [sorted, index] = logits[r].sort(-1, true);
      at::Tensor probs = sorted.softmax(-1);
      at::Tensor before = probs.cumsum(-1) - probs;
      const int64_t kept = (before < 0.9).sum().item<int64_t>();
      EXPECT_EQ(processed[r].isfinite().sum().item<int64_t>(), kept) << "spread " << spread;
      for (int64_t i = 0; i < kept; ++i) {
        EXPECT_TRUE(std::isfinite(processed[r][index[i].item<int64_t>()].item<float>()));
      }
    }
  }
}

TEST(TopPTest, RejectsOutOfRange) {
  EXPECT_THAT(TopPProcessor::Create(0.0).status().message(),
              HasSubstr("top_p must be > 0 and <= 1"));
  EXPECT_FALSE(TopPProcessor::Create(1.5).ok());
  EXPECT_FALSE(TopPProcessor::Create(std::nan("")).ok());
}

TEST(MinPTest, KeepsTokensAboveScaledMax) {
  auto m = MinPProcessor::Create(0.25);  // threshold 0.125
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(ApplyToProbs(**m, kProbs),
              ElementsAre(DoubleNear(0.5 / 0.9, kTol),
                          DoubleNear(0.25 / 0.9, kTol),
                          DoubleNear(0.15 / 0.9, kTol), DoubleNear(0, kTol)));
  auto all = MinPProcessor::Create(1.0);  // only the max survives
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(ApplyToProbs(**all, kProbs),
              ElementsAre(DoubleNear(1, kTol), DoubleNear(0, kTol),
                          DoubleNear(0, kTol), DoubleNear(0, kTol)));
}

TEST(MinPTest, RejectsOutOfRange) {
  EXPECT_THAT(MinPProcessor::Create(-0.1).status().message(),
              HasSubstr("min_p"));
  EXPECT_FALSE(MinPProcessor::Create(1.01).ok());
}

// Entropy of kProbs is 1.20797 nats; |-log p - H| = 0.515, 0.178, 0.689,
// 1.095, so the typical order is token 1, 0, 2, 3.
TEST(TypicalPTest, KeepsMostTypicalTokensFirst) {
  auto t20 = TypicalPProcessor::Create(0.2);
  ASSERT_TRUE(t20.ok());
  EXPECT_THAT(ApplyToProbs(**t20, kProbs),
              ElementsAre(DoubleNear(0, kTol), DoubleNear(1, kTol),
                          DoubleNear(0, kTol), DoubleNear(0, kTol)));
  auto t50 = TypicalPProcessor::Create(0.5);
  ASSERT_TRUE(t50.ok());
  EXPECT_THAT(ApplyToProbs(**t50, kProbs),
              ElementsAre(DoubleNear(2.0 / 3, kTol), DoubleNear(1.0 / 3, kTol),
                          DoubleNear(0, kTol), DoubleNear(0, kTol)));
  EXPECT_FALSE(TypicalPProcessor::Create(0.0).ok());
  EXPECT_FALSE(TypicalPProcessor::Create(1.1).ok());
}

TEST(RepetitionPenaltyTest, DividesPositiveMultipliesNegativeOncePerToken) {
  auto rp = RepetitionPenaltyProcessor::Create(2.0);
  ASSERT_TRUE(rp.ok());
  at::Tensor logits = Row({2.0f, -2.0f, 1.0f, 0.5f});
  const std::vector<int64_t> tokens = {0, 1, 1};
  std::vector<TokenHistory> h = {{tokens, /*prompt_length=*/1}};
  ASSERT_TRUE((*rp)->Process(h, logits).ok());
  EXPECT_THAT(ToVector(logits),
              ElementsAre(DoubleNear(1.0, kTol), DoubleNear(-4.0, kTol),
                          DoubleNear(1.0, kTol), DoubleNear(0.5, kTol)));
  EXPECT_TRUE((*rp)->DependsOnHistory());
  EXPECT_FALSE(RepetitionPenaltyProcessor::Create(0.0).ok());
}

TEST(RepetitionPenaltyTest, RejectsHistoryOutsideVocabulary) {
  auto rp = RepetitionPenaltyProcessor::Create(1.5);
  ASSERT_TRUE(rp.ok());
  at::Tensor logits = Row({1, 2, 3});
  const std::vector<int64_t> tokens = {0, 7};
  std::vector<TokenHistory> h = {{tokens, 0}};
  absl::Status s = (*rp)->Process(h, logits);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("outside the vocabulary"));
}

TEST(PresenceFrequencyPenaltyTest, PenalisesGeneratedTokensOnly) {
  auto pf = PresenceFrequencyPenaltyProcessor::Create(0.5, 0.25);
  ASSERT_TRUE(pf.ok());
  at::Tensor logits = Row({1.0f, 1.0f, 1.0f, 1.0f});
  const std::vector<int64_t> tokens = {2, 0, 0, 3};  // prompt: {2}
  std::vector<TokenHistory> h = {{tokens, 1}};
  ASSERT_TRUE((*pf)->Process(h, logits).ok());
  EXPECT_THAT(ToVector(logits),
              ElementsAre(DoubleNear(1.0 - 0.5 - 2 * 0.25, kTol),
                          DoubleNear(1.0, kTol), DoubleNear(1.0, kTol),
                          DoubleNear(1.0 - 0.5 - 0.25, kTol)));
  EXPECT_FALSE(PresenceFrequencyPenaltyProcessor::Create(2.5, 0).ok());
  EXPECT_THAT(
      PresenceFrequencyPenaltyProcessor::Create(0, -3).status().message(),
      HasSubstr("frequency_penalty"));
}

TEST(NoRepeatNGramTest, BansTokensCompletingSeenNGrams) {
  EXPECT_THAT(NoRepeatNGramProcessor::BannedNextTokens({1, 2, 3, 1}, 2),
              ElementsAre(2));
  EXPECT_THAT(NoRepeatNGramProcessor::BannedNextTokens({1, 2, 3, 1, 2}, 3),
              ElementsAre(3));
  EXPECT_THAT(NoRepeatNGramProcessor::BannedNextTokens({1, 2, 3}, 1),
              ElementsAre(1, 2, 3));
  EXPECT_TRUE(NoRepeatNGramProcessor::BannedNextTokens({1}, 3).empty());

  auto ng = NoRepeatNGramProcessor::Create(2);
  ASSERT_TRUE(ng.ok());
  at::Tensor logits = Row({0, 0, 0, 0});
  const std::vector<int64_t> tokens = {1, 2, 3, 1};
  std::vector<TokenHistory> h = {{tokens, 0}};
  ASSERT_TRUE((*ng)->Process(h, logits).ok());
  EXPECT_THAT(Softmax(logits),
              ElementsAre(DoubleNear(1.0 / 3, kTol), DoubleNear(1.0 / 3, kTol),
                          DoubleNear(0, kTol), DoubleNear(1.0 / 3, kTol)));
  EXPECT_FALSE(NoRepeatNGramProcessor::Create(0).ok());
}

TEST(MinNewTokensTest, SuppressesEosUntilEnoughGenerated) {
  auto mn = MinNewTokensProcessor::Create(2, {3});
  ASSERT_TRUE(mn.ok());
  const std::vector<int64_t> one_generated = {5, 6, 7};
  const std::vector<int64_t> two_generated = {5, 6, 7, 8};
  std::vector<TokenHistory> h = {{one_generated, 2}, {two_generated, 2}};
  at::Tensor logits = at::zeros({2, 10});
  ASSERT_TRUE((*mn)->Process(h, logits).ok());
  EXPECT_EQ(logits[0][3].item<float>(), -kInf);
  EXPECT_EQ(logits[1][3].item<float>(), 0.0f);
  EXPECT_FALSE(MinNewTokensProcessor::Create(-1, {3}).ok());
  EXPECT_FALSE(MinNewTokensProcessor::Create(1, {-3}).ok());
}

TEST(BannedTokensTest, MasksEveryRowAndRejectsOutOfVocab) {
  auto banned = BannedTokensProcessor::Create({1, 3});
  ASSERT_TRUE(banned.ok());
  at::Tensor logits = at::zeros({2, 4});
  auto h = NoHistory(2);
  ASSERT_TRUE((*banned)->Process(h, logits).ok());
  for (int r = 0; r < 2; ++r) {
    EXPECT_THAT(Softmax(logits[r]),
                ElementsAre(DoubleNear(0.5, kTol), DoubleNear(0, kTol),
                            DoubleNear(0.5, kTol), DoubleNear(0, kTol)));
  }
  auto too_big = BannedTokensProcessor::Create({4});
  ASSERT_TRUE(too_big.ok());
  at::Tensor small = at::zeros({1, 4});
  auto h1 = NoHistory(1);
  EXPECT_THAT((*too_big)->Process(h1, small).message(),
              HasSubstr("outside the vocabulary"));
  EXPECT_FALSE(BannedTokensProcessor::Create({-1}).ok());
}

TEST(LogitBiasTest, AddsBiasesAndSumsDuplicates) {
  auto bias = LogitBiasProcessor::Create({{0, 1.0}, {2, -1.0}, {0, 0.5}});
  ASSERT_TRUE(bias.ok());
  at::Tensor logits = Row({0, 0, 0});
  auto h = NoHistory();
  ASSERT_TRUE((*bias)->Process(h, logits).ok());
  EXPECT_THAT(ToVector(logits),
              ElementsAre(DoubleNear(1.5, kTol), DoubleNear(0, kTol),
                          DoubleNear(-1.0, kTol)));
  EXPECT_THAT(LogitBiasProcessor::Create({{0, 101}}).status().message(),
              HasSubstr("[-100, 100]"));
  EXPECT_FALSE(LogitBiasProcessor::Create({{-2, 1}}).ok());
}

TEST(LogitsProcessorChainTest, AppliesInOrderAndIsItselfAProcessor) {
  LogitsProcessorChain inner;
  inner.Add(*TemperatureProcessor::Create(0.5));
  LogitsProcessorChain chain;
  chain.Add(std::make_unique<LogitsProcessorChain>(std::move(inner)));
  chain.Add(*TopKProcessor::Create(2));
  EXPECT_EQ(chain.Name(), "chain[chain[temperature(0.5)], top_k(2)]");
  EXPECT_FALSE(chain.DependsOnHistory());
  // Temperature 0.5 squares the probabilities, then top-2 keeps 0.25, 0.0625.
  EXPECT_THAT(ApplyToProbs(chain, kProbs),
              ElementsAre(DoubleNear(0.8, kTol), DoubleNear(0.2, kTol),
                          DoubleNear(0, kTol), DoubleNear(0, kTol)));
  chain.Add(*RepetitionPenaltyProcessor::Create(1.2));
  EXPECT_TRUE(chain.DependsOnHistory());
}

TEST(LogitsProcessorChainTest, RejectsBadShapes) {
  LogitsProcessorChain chain;
  at::Tensor one_d = at::zeros({4});
  auto h = NoHistory();
  EXPECT_EQ(chain.Process(h, one_d).code(), absl::StatusCode::kInvalidArgument);
  at::Tensor two_rows = at::zeros({2, 4});
  EXPECT_THAT(chain.Process(h, two_rows).message(), HasSubstr("2 rows"));
  at::Tensor doubles = at::zeros({1, 4}, at::kDouble);
  EXPECT_THAT(chain.Process(h, doubles).message(), HasSubstr("float32"));
}

TEST(WarpersTest, WorkRowWiseOnBatches) {
  auto k1 = TopKProcessor::Create(1);
  ASSERT_TRUE(k1.ok());
  at::Tensor logits = at::cat({LogRow({0.1, 0.9}), LogRow({0.7, 0.3})});
  auto h = NoHistory(2);
  ASSERT_TRUE((*k1)->Process(h, logits).ok());
  EXPECT_THAT(Softmax(logits[0]), ElementsAre(DoubleNear(0, kTol), DoubleNear(1, kTol)));
  EXPECT_THAT(Softmax(logits[1]), ElementsAre(DoubleNear(1, kTol), DoubleNear(0, kTol)));
}

}  // namespace
}  // namespace tandem::sampling
