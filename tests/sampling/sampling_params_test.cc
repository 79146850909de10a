#include "sampling/sampling_params.h"

#include <cmath>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/sampling/test_util.h"

namespace tandem::sampling {
namespace {

using ::testing::HasSubstr;

struct BadParamCase {
  const char* name;
  void (*mutate)(SamplingParams&);
  const char* field;
};

class InvalidSamplingParamsTest : public ::testing::TestWithParam<BadParamCase> {};

TEST_P(InvalidSamplingParamsTest, NamesTheFieldAndRange) {
  SamplingParams p;
  GetParam().mutate(p);
  absl::Status s = ValidateSamplingParams(p, /*vocab_size=*/100);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(GetParam().field));
}

INSTANTIATE_TEST_SUITE_P(
    AllFields, InvalidSamplingParamsTest,
    ::testing::Values(
        BadParamCase{"negative_temperature", [](SamplingParams& p) { p.temperature = -0.1; }, "`temperature`"},
        BadParamCase{"nan_temperature", [](SamplingParams& p) { p.temperature = std::nan(""); }, "`temperature`"},
        BadParamCase{"negative_top_k", [](SamplingParams& p) { p.top_k = -1; }, "`top_k`"},
        BadParamCase{"zero_top_p", [](SamplingParams& p) { p.top_p = 0.0; }, "`top_p` must be in (0, 1]"},
        BadParamCase{"big_top_p", [](SamplingParams& p) { p.top_p = 1.01; }, "`top_p`"},
        BadParamCase{"negative_min_p", [](SamplingParams& p) { p.min_p = -0.5; }, "`min_p` must be in [0, 1]"},
        BadParamCase{"big_typical_p", [](SamplingParams& p) { p.typical_p = 2; }, "`typical_p`"},
        BadParamCase{"zero_repetition", [](SamplingParams& p) { p.repetition_penalty = 0; }, "`repetition_penalty`"},
        BadParamCase{"presence", [](SamplingParams& p) { p.presence_penalty = 2.5; }, "`presence_penalty`"},
        BadParamCase{"frequency", [](SamplingParams& p) { p.frequency_penalty = -2.5; }, "`frequency_penalty`"},
        BadParamCase{"ngram", [](SamplingParams& p) { p.no_repeat_ngram_size = -2; }, "`no_repeat_ngram_size`"},
        BadParamCase{"min_new", [](SamplingParams& p) { p.min_new_tokens = -1; }, "`min_new_tokens`"},
        BadParamCase{"eos", [](SamplingParams& p) { p.eos_token_ids = {100}; }, "eos_token_ids"},
        BadParamCase{"banned", [](SamplingParams& p) { p.banned_token_ids = {-1}; }, "banned_token_ids"},
        BadParamCase{"bias_id", [](SamplingParams& p) { p.logit_bias = {{150, 1.0}}; }, "logit_bias.token_id"},
        BadParamCase{"bias_value", [](SamplingParams& p) { p.logit_bias = {{1, -200.0}}; }, "`logit_bias.bias`"}),
    [](const ::testing::TestParamInfo<BadParamCase>& info) { return info.param.name; });

TEST(SamplingParamsTest, DefaultsAreValidAndBuildAnEmptyChain) {
  SamplingParams p;
  EXPECT_TRUE(ValidateSamplingParams(p, 10).ok());
  auto chain = BuildProcessorChain(p);
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE((*chain)->empty());
}

TEST(SamplingParamsTest, ChainFollowsHuggingFaceOrder) {
  SamplingParams p;
  p.temperature = 0.7;
  p.top_k = 5;
  p.top_p = 0.9;
  p.min_p = 0.05;
  p.typical_p = 0.95;
  p.repetition_penalty = 1.1;
  p.presence_penalty = 0.1;
  p.no_repeat_ngram_size = 3;
  p.min_new_tokens = 2;
  p.eos_token_ids = {2};
  p.banned_token_ids = {7};
  p.logit_bias = {{1, 2.0}};
  auto chain = BuildProcessorChain(p);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ((*chain)->Name(),
            "chain[logit_bias(1), banned_tokens(1), min_new_tokens(2), "
            "no_repeat_ngram(3), repetition_penalty(1.1), "
            "presence_frequency_penalty(0.1, 0), temperature(0.7), top_k(5), "
            "top_p(0.9), min_p(0.05), typical_p(0.95)]");
}

TEST(SamplingParamsTest, GreedyKeepsPenaltiesButDropsWarpers) {
  SamplingParams p = PresetParams(Preset::kDeterministic);
  p.top_k = 3;
  p.repetition_penalty = 1.3;
  auto chain = BuildProcessorChain(p);
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ((*chain)->Name(), "chain[repetition_penalty(1.3)]");
}

TEST(PresetTest, MatchesDocumentedValues) {
  SamplingParams creative = PresetParams(Preset::kCreative);
  EXPECT_DOUBLE_EQ(creative.temperature, 1.2);
  EXPECT_DOUBLE_EQ(creative.top_p, 0.95);
  EXPECT_EQ(creative.top_k, 100);
  EXPECT_DOUBLE_EQ(creative.repetition_penalty, 1.1);
  SamplingParams precise = PresetParams(Preset::kPrecise);
  EXPECT_DOUBLE_EQ(precise.temperature, 0.3);
  EXPECT_DOUBLE_EQ(precise.top_p, 0.9);
  EXPECT_EQ(precise.top_k, 20);
  EXPECT_DOUBLE_EQ(precise.repetition_penalty, 1.05);
  SamplingParams balanced = PresetParams(Preset::kBalanced);
  EXPECT_DOUBLE_EQ(balanced.temperature, 0.7);
  EXPECT_DOUBLE_EQ(balanced.top_p, 0.9);
  EXPECT_EQ(balanced.top_k, 50);
  EXPECT_DOUBLE_EQ(balanced.repetition_penalty, 1.0);
  EXPECT_TRUE(PresetParams(Preset::kDeterministic).greedy());
}

TEST(PresetTest, ParsesNamesAndRejectsUnknown) {
  for (Preset p : {Preset::kCreative, Preset::kPrecise, Preset::kBalanced,
                   Preset::kDeterministic}) {
    auto parsed = ParsePreset(PresetName(p));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, p);
  }
  EXPECT_EQ(*ParsePreset("Balanced"), Preset::kBalanced);
  EXPECT_THAT(ParsePreset("wild").status().message(),
              HasSubstr("creative, precise, balanced, deterministic"));
}

}  // namespace
}  // namespace tandem::sampling
