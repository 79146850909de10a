// The reference the statistical tests trust, checked on hand-computed cases.
#include "tests/testing/reference_sampling.h"

#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

namespace tandem::testing {
namespace {

std::vector<float> LogOf(const std::vector<double>& probs) {
  std::vector<float> out;
  for (double p : probs) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

void ExpectProbs(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << "token " << i;
}

std::vector<double> Next(const std::vector<float>& logits, const ReferenceParams& p,
                         const std::vector<int64_t>& history = {0}, int64_t prompt_length = 1) {
  return ReferenceNextTokenDistribution(logits, history, prompt_length, p);
}

TEST(ReferenceSamplingTest, TemperatureDividesLogits) {
  ReferenceParams p;
  p.temperature = 0.5;  // exp(2 * ln 2) = 4: odds 1 : 4.
  ExpectProbs(Next({0.0f, static_cast<float>(std::log(2.0))}, p), {0.2, 0.8});
}

TEST(ReferenceSamplingTest, TopKKeepsTiesWithTheKth) {
  ReferenceParams p;
  p.top_k = 1;
  ExpectProbs(Next({1.0f, 3.0f, 3.0f, 2.0f}, p), {0.0, 0.5, 0.5, 0.0});
}

TEST(ReferenceSamplingTest, TopPKeepsTheSmallestPrefixReachingP) {
  ReferenceParams p;
  p.top_p = 0.75;  // 0.5 + 0.3 >= 0.75.
  ExpectProbs(Next(LogOf({0.3, 0.5, 0.2}), p), {0.375, 0.625, 0.0});
  p.top_p = 0.4;  // The most probable token alone.
  ExpectProbs(Next(LogOf({0.3, 0.5, 0.2}), p), {0.0, 1.0, 0.0});
}

TEST(ReferenceSamplingTest, MinPDropsTokensBelowAFractionOfTheMax) {
  ReferenceParams p;
  p.min_p = 0.5;  // Keep p >= 0.25.
  ExpectProbs(Next(LogOf({0.5, 0.3, 0.2}), p), {0.625, 0.375, 0.0});
}

TEST(ReferenceSamplingTest, TypicalPKeepsTokensClosestToTheEntropy) {
  // H = 1.0297; |-log p - H| = 0.337, 0.174, 0.580: order 1, 0, 2.
  ReferenceParams p;
  p.typical_p = 0.5;
  ExpectProbs(Next(LogOf({0.5, 0.3, 0.2}), p), {0.625, 0.375, 0.0});
  p.typical_p = 0.25;
  ExpectProbs(Next(LogOf({0.5, 0.3, 0.2}), p), {0.0, 1.0, 0.0});
}

TEST(ReferenceSamplingTest, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  ReferenceParams p;
  p.repetition_penalty = 2.0;
  // Seen: 0 (prompt) and 1 (generated): logits 2 -> 1, -1 -> -2, 0.5 unseen.
  const std::vector<double> got = Next({2.0f, -1.0f, 0.5f}, p, {0, 1}, 1);
  const double z = std::exp(1.0) + std::exp(-2.0) + std::exp(0.5);
  ExpectProbs(got, {std::exp(1.0) / z, std::exp(-2.0) / z, std::exp(0.5) / z});
}

TEST(ReferenceSamplingTest, PresenceAndFrequencyCountGeneratedTokensOnly) {
  ReferenceParams p;
  p.presence_penalty = 0.5;
  p.frequency_penalty = 0.25;
  // Prompt {0}; generated {1, 1, 2}: logits 0, -1, -0.75.
  const std::vector<double> got = Next({0.0f, 0.0f, 0.0f}, p, {0, 1, 1, 2}, 1);
  const double z = 1.0 + std::exp(-1.0) + std::exp(-0.75);
  ExpectProbs(got, {1.0 / z, std::exp(-1.0) / z, std::exp(-0.75) / z});
}

TEST(ReferenceSamplingTest, NoRepeatNgramBansCompletions) {
  ReferenceParams p;
  p.no_repeat_ngram_size = 2;  // History 0 1 2 0: "0 1" exists, ban 1.
  ExpectProbs(Next({0.0f, 0.0f, 0.0f}, p, {0, 1, 2, 0}, 4), {0.5, 0.0, 0.5});
  p.no_repeat_ngram_size = 3;  // History 0 1 2 0 1: "0 1 2" exists, ban 2.
  ExpectProbs(Next({0.0f, 0.0f, 0.0f}, p, {0, 1, 2, 0, 1}, 5), {0.5, 0.5, 0.0});
  p.no_repeat_ngram_size = 1;  // Every seen token.
  ExpectProbs(Next({0.0f, 0.0f, 0.0f}, p, {0, 2}, 2), {0.0, 1.0, 0.0});
}

TEST(ReferenceSamplingTest, BiasBanAndMinNewTokens) {
  ReferenceParams p;
  p.logit_bias = {{0, std::log(3.0)}};
  p.banned = {2};
  p.min_new_tokens = 2;
  p.eos_ids = {3};
  // One token generated (< 2): EOS 3 masked; odds 3 : 1 : 0 : 0.
  ExpectProbs(Next({0.0f, 0.0f, 0.0f, 0.0f}, p, {1, 0}, 1), {0.75, 0.25, 0.0, 0.0});
  // Two generated: EOS allowed.
  ExpectProbs(Next({0.0f, 0.0f, 0.0f, 0.0f}, p, {1, 0, 0}, 1), {0.6, 0.2, 0.0, 0.2});
}

TEST(ReferenceSamplingTest, JointOfThreeIsTheChainRuleOverEveryPrefix) {
  // A 2-token Markov chain: after token t, P(next = t) = 0.75.
  const RawLogitsFn logits = [](const std::vector<int64_t>& s) {
    return s.back() == 0 ? std::vector<float>{static_cast<float>(std::log(3.0)), 0.0f}
                         : std::vector<float>{0.0f, static_cast<float>(std::log(3.0))};
  };
  const std::vector<double> joint = ReferenceJointOfThree({0}, 2, ReferenceParams{}, logits);
  ASSERT_EQ(joint.size(), 8u);
  EXPECT_NEAR(std::accumulate(joint.begin(), joint.end(), 0.0), 1.0, 1e-12);
  EXPECT_NEAR(joint[0], 0.75 * 0.75 * 0.75, 1e-6);           // 0 0 0
  EXPECT_NEAR(joint[(1 * 2 + 1) * 2 + 0], 0.25 * 0.75 * 0.25, 1e-6);  // 1 1 0
}

}  // namespace
}  // namespace tandem::testing
