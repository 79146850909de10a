// ModelInfo on the wire names the model family, Llama variants included.

#include "services/common/convert.h"

#include <gtest/gtest.h>

namespace tandem::services {
namespace {

TEST(ConvertTest, ModelInfoNamesTheFamily) {
  const std::vector<std::pair<model::LlamaVariant, std::string>> cases = {
      {model::LlamaVariant::kLlama, "llama"},
      {model::LlamaVariant::kMistral, "mistral"},
      {model::LlamaVariant::kQwen2, "qwen2"},
      {model::LlamaVariant::kQwen3, "qwen3"}};
  for (const auto& [variant, name] : cases) {
    model::ModelInfo info;
    info.architecture = model::Architecture::kLlama;
    info.variant = variant;
    v1::ModelInfo out;
    ToProto(info, &out);
    EXPECT_EQ(out.architecture(), name);
  }
  model::ModelInfo gpt2;
  gpt2.architecture = model::Architecture::kGpt2;
  gpt2.variant = model::LlamaVariant::kQwen3;  // Ignored: variants are Llama's.
  v1::ModelInfo out;
  ToProto(gpt2, &out);
  EXPECT_EQ(out.architecture(), "gpt2");
}

TEST(ConvertTest, SessionConfigCarriesDistributionTopNWithinItsRange) {
  decoding::SessionOptions o;
  o.distribution_top_n = 7;
  v1::SessionConfig wire;
  ToProto(o, &wire);
  EXPECT_EQ(wire.distribution_top_n(), 7u);
  absl::StatusOr<decoding::SessionOptions> back = FromProto(wire);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->distribution_top_n, 7);
  wire.set_distribution_top_n(decoding::kMaxDistributionTopN + 1);
  absl::StatusOr<decoding::SessionOptions> bad = FromProto(wire);
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("config.distribution_top_n"), std::string::npos);
}

TEST(ConvertTest, GeneratedTokenRoundTripsBothDistributions) {
  sampling::StepResult step;
  step.token = 3;
  step.logprob = -0.5;
  step.raw_distribution = {{3, -0.25}, {1, -1.5}};
  step.processed_distribution = {{3, -0.5}};
  v1::GeneratedToken wire;
  ToProto(step, /*logprobs=*/true, /*top_n=*/0, &wire);
  ASSERT_EQ(wire.raw_distribution_size(), 2);
  ASSERT_EQ(wire.processed_distribution_size(), 1);
  sampling::StepResult back = FromProto(wire);
  ASSERT_EQ(back.raw_distribution.size(), 2u);
  EXPECT_EQ(back.raw_distribution[1].token, 1);
  EXPECT_DOUBLE_EQ(back.raw_distribution[1].logprob, -1.5);
  ASSERT_EQ(back.processed_distribution.size(), 1u);
  EXPECT_EQ(back.processed_distribution[0].token, 3);
}

}  // namespace
}  // namespace tandem::services
