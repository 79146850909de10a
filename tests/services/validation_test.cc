#include "services/orchestrator/validation.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace tandem::services {
namespace {

using ::testing::HasSubstr;

// Byte-level BPE over "a".."c" (ids 0..2) with EOS-like id 3.
constexpr char kTokenizer[] = R"({
  "added_tokens": [{"id": 3, "content": "<|end|>", "special": true}],
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2}, "merges": []}})";

class ValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tok = tokenizer::ParseHfTokenizerJson(kTokenizer, "t.json");
    ASSERT_TRUE(tok.ok()) << tok.status();
    tokenizer_ = *std::move(tok);
    target_.vocab_size = 4;
    target_.context_length = 32;
    target_.num_layers = 4;
  }

  // ValidateGenerate of a GenerateRequest text proto.
  absl::StatusOr<ValidatedGeneration> Validate(const std::string& text) {
    v1::GenerateRequest r;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r)) << text;
    return ValidateGenerate(r.request_id(), r.prompts(), r.config(), target_, {3}, *tokenizer_,
                            limits_);
  }

  void ExpectInvalid(const std::string& text, const std::string& message) {
    absl::StatusOr<ValidatedGeneration> v = Validate(text);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(v.status().message()), HasSubstr(message)) << text;
  }

  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  model::ModelInfo target_;
  GenerationLimits limits_;
};

TEST_F(ValidationTest, AcceptsAPlainRequest) {
  absl::StatusOr<ValidatedGeneration> v = Validate(R"(prompts { text: "abc" })");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->num_return_sequences, 1);
  EXPECT_EQ(v->prompts.size(), 1u);
}

// uint32 fields above INT32_MAX used to wrap to negative ints and pass.
TEST_F(ValidationTest, RejectsCountsAboveInt32MaxInsteadOfWrapping) {
  ExpectInvalid(R"(prompts { text: "a" } config { num_return_sequences: 2147483649
                   sampling { temperature: 1 } })",
                "`config.num_return_sequences` must be in [1, 16], got 2147483649");
  ExpectInvalid(R"(prompts { text: "a" }
                   config { speculation { fixed_draft_length: 2147483648 } })",
                "`speculation.fixed_draft_length` must be in [1, 16], got 2147483648");
  ExpectInvalid(R"(prompts { text: "a" }
                   config { speculation { adaptive { max_draft_length: 4294967295 } } })",
                "`speculation.adaptive.max_draft_length` must be in [1, 16], got 4294967295");
  ExpectInvalid(R"(prompts { text: "a" }
                   config { speculation { ngram { min_ngram_size: 4294967295 } } })",
                "1 <= min_ngram_size <= max_ngram_size <= 16");
}

TEST_F(ValidationTest, RejectsDuplicateLogitBiasIds) {
  ExpectInvalid(R"(prompts { text: "a" } config { sampling {
                   logit_bias { token_id: 1 bias: 60 } logit_bias { token_id: 1 bias: 60 } } })",
                "`config.sampling.logit_bias` has two entries for token id 1");
}

TEST_F(ValidationTest, SeveralSequencesNeedSamplingOrBeams) {
  ExpectInvalid(R"(prompts { text: "a" } config { num_return_sequences: 2
                   sampling { temperature: 0 } })",
                "`config.num_return_sequences` must be 1 with greedy decoding");
  EXPECT_TRUE(Validate(R"(prompts { text: "a" } config { num_return_sequences: 2
                          sampling { temperature: 0.7 } })").ok());
  EXPECT_TRUE(Validate(R"(prompts { text: "a" } config { num_return_sequences: 2
                          sampling { temperature: 0 } beam_search { num_beams: 2 } })").ok());
}

TEST_F(ValidationTest, LengthPenaltyMustBeInRange) {
  ExpectInvalid(R"(prompts { text: "a" }
                   config { beam_search { num_beams: 2 length_penalty: 1e30 } })",
                "`config.beam_search.length_penalty` must be in [-10, 10]");
  EXPECT_TRUE(
      Validate(R"(prompts { text: "a" } config { beam_search { num_beams: 2 length_penalty: -10 } })")
          .ok());
}

TEST(AdmissionLimitTest, CappedAtTheTargetsTotalSessions) {
  EXPECT_EQ(AdmissionLimit(256, {64}), 64);
  EXPECT_EQ(AdmissionLimit(256, {64, 32}), 96);    // Replicas add up.
  EXPECT_EQ(AdmissionLimit(50, {64, 32}), 50);     // Already below.
  EXPECT_EQ(AdmissionLimit(256, {64, 0}), 256);    // One replica unlimited.
  EXPECT_EQ(AdmissionLimit(256, {}), 256);         // Nothing known.
}

}  // namespace
}  // namespace tandem::services
