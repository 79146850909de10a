// llama.cpp accepts the GGUF files our writer produces (tiny Llama and GPT-2,
// several storage types) and returns finite logits of the right size.
#include <algorithm>
#include <cmath>
#include <string>

#include "gtest/gtest.h"
#include "tests/conformance/llama_cpp/oracle.h"
#include "tests/testing/oracles.h"
#include "tools/make_tiny_model/tiny_model.h"

namespace tandem::testing {
namespace {

using model::formats::GgmlType;

struct Case {
  std::string name;
  model::Architecture arch;
  GgmlType type;
  bool bias;
  bool tie;
};

class LlamaCppLoadsTinyGgufTest : public ::testing::TestWithParam<Case> {};

TEST_P(LlamaCppLoadsTinyGgufTest, ReturnsFiniteLogitsAndGreedyTokens) {
  const Case& c = GetParam();
  tools::TinyModelOptions options;
  options.architecture = c.arch;
  options.gguf_type = c.type;
  options.attention_bias = c.bias;
  options.tie_word_embeddings = c.tie;
  options.vocab_size = 320;
  absl::StatusOr<tools::TinyModelPaths> paths =
      tools::WriteTinyModel(options, MakeTempDir("tiny_" + c.name));
  ASSERT_TRUE(paths.ok()) << paths.status();

  LlamaCppOracleRequest request;
  request.gguf_path = paths->gguf_path;
  request.prompt_ids = {1, 100, 200, 300, 42};
  request.n_greedy = 64;
  request.all_positions = true;
  absl::StatusOr<LlamaCppOracleResult> result = RunLlamaCppOracle(request);
  ASSERT_TRUE(result.ok()) << result.status();

  EXPECT_EQ(result->n_vocab, 320);
  ASSERT_EQ(result->logits.size(), request.prompt_ids.size());
  for (const std::vector<float>& row : result->logits) {
    ASSERT_EQ(row.size(), 320u);
    EXPECT_TRUE(std::all_of(row.begin(), row.end(), [](float v) { return std::isfinite(v); }));
    // Random weights give logits with a spread of a few units, not a constant.
    const auto [lo, hi] = std::minmax_element(row.begin(), row.end());
    EXPECT_GT(*hi - *lo, 1.0f);
  }
  ASSERT_EQ(result->greedy_ids.size(), 64u);
  const std::vector<float>& last = result->logits.back();
  EXPECT_EQ(result->greedy_ids[0], std::max_element(last.begin(), last.end()) - last.begin());
  for (int64_t id : result->greedy_ids) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 320);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, LlamaCppLoadsTinyGgufTest,
    ::testing::Values(Case{"llama_f32", model::Architecture::kLlama, GgmlType::kF32, false, false},
                      Case{"llama_f16_bias_tied", model::Architecture::kLlama, GgmlType::kF16, true, true},
                      Case{"llama_q8_0", model::Architecture::kLlama, GgmlType::kQ8_0, false, false},
                      Case{"llama_q4_0", model::Architecture::kLlama, GgmlType::kQ4_0, false, false},
                      Case{"gpt2_f32_tied", model::Architecture::kGpt2, GgmlType::kF32, false, true},
                      Case{"gpt2_q4_1", model::Architecture::kGpt2, GgmlType::kQ4_1, false, false}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace tandem::testing
