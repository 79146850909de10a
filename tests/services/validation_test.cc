#include "services/orchestrator/validation.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "decoding/backend_beam_search.h"
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
                "`config.num_return_sequences` must be in [0, 16], got 2147483649");
  ExpectInvalid(R"(prompts { text: "a" }
                   config { speculation { fixed_draft_length: 2147483648 } })",
                "`config.speculation.fixed_draft_length` must be in [1, 16], got 2147483648");
  ExpectInvalid(R"(prompts { text: "a" }
                   config { speculation { adaptive { max_draft_length: 4294967295 } } })",
                "`config.speculation.adaptive.max_draft_length` must be in [1, 16], got 4294967295");
  ExpectInvalid(R"(prompts { text: "a" }
                   config { speculation { mode: SPECULATION_MODE_NGRAM
                                          ngram { min_ngram_size: 4294967295 } } })",
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

TEST_F(ValidationTest, BeamSearchSpeculatesOnlyWithADraftModel) {
  limits_.draft_available = true;
  limits_.default_mode = decoding::SpeculationMode::kDraftModel;
  const std::string beams = R"(prompts { text: "a" } config { beam_search { num_beams: 4 } )";
  // Unset: plain beam search (speculation only when asked for).
  absl::StatusOr<ValidatedGeneration> v = Validate(beams + "}");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->beam_search);
  EXPECT_EQ(v->base.speculation.mode, decoding::SpeculationMode::kOff);
  v = Validate(beams + "speculation { mode: SPECULATION_MODE_DRAFT_MODEL } }");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->base.speculation.mode, decoding::SpeculationMode::kDraftModel);
  EXPECT_GE(v->base.speculation.draft_length, 1);
  EXPECT_LE(v->base.speculation.draft_length, decoding::kMaxBeamDraftSteps);
  EXPECT_EQ(v->base.speculation.adaptive, limits_.default_adaptive);
  v = Validate(beams + "speculation { mode: SPECULATION_MODE_DRAFT_MODEL fixed_draft_length: 8 } }");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->base.speculation.draft_length, 8);
  EXPECT_FALSE(v->base.speculation.adaptive);
  v = Validate(beams + "speculation { mode: SPECULATION_MODE_OFF } }");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->base.speculation.mode, decoding::SpeculationMode::kOff);
  ExpectInvalid(beams + "speculation { mode: SPECULATION_MODE_NGRAM } }",
                "`config.speculation.mode` must be DRAFT_MODEL, OFF or unset with beam search");
  ExpectInvalid(beams + "speculation { mode: SPECULATION_MODE_SELF_SPECULATIVE } }",
                "`config.speculation.mode` must be DRAFT_MODEL, OFF or unset with beam search");
  ExpectInvalid(beams + "speculation { fixed_draft_length: 9 } }",
                "`config.speculation.fixed_draft_length` must be in [1, 8] with beam search, got 9");
  ExpectInvalid(beams + "speculation { adaptive { max_draft_length: 4 } } }",
                "`config.speculation.adaptive` is not available with beam search");
  ExpectInvalid(beams + "speculation { tree { alternatives: 1 depth: 1 } } }",
                "`config.speculation.tree` is not available with beam search");
  // Without a draft service DRAFT_MODEL fails as it does without beams.
  limits_.draft_available = false;
  v = Validate(beams + "speculation { mode: SPECULATION_MODE_DRAFT_MODEL } }");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ValidationTest, LengthPenaltyMustBeInRange) {
  ExpectInvalid(R"(prompts { text: "a" }
                   config { beam_search { num_beams: 2 length_penalty: 1e30 } })",
                "`config.beam_search.length_penalty` must be in [-10, 10]");
  EXPECT_TRUE(
      Validate(R"(prompts { text: "a" } config { beam_search { num_beams: 2 length_penalty: -10 } })")
          .ok());
}

TEST_F(ValidationTest, NamesEachFieldByItsPathInTheRequest) {
  // EOS ids live under `config.stopping`, not `config.sampling`.
  ExpectInvalid(R"(prompts { text: "a" } config { stopping { eos_token_ids: 9 } })",
                "`config.stopping.eos_token_ids` contains 9; ids must be in [0, 4)");
  ExpectInvalid(R"(prompts { text: "a" } config { sampling { top_p: 2 } })",
                "`config.sampling.top_p` must be in (0, 1], got 2");
  ExpectInvalid(R"(prompts { text: "a" } config { sampling { temperature: 101 } })",
                "`config.sampling.temperature` must be in [0, 100]");
  ExpectInvalid(R"(prompts { text: "a" } config { sampling { banned_token_ids: 7 } })",
                "`config.sampling.banned_token_ids` contains token id 7");
}

TEST_F(ValidationTest, TopLogprobsNeedLogprobs) {
  ExpectInvalid(R"(prompts { text: "a" } config { output { top_logprobs: 2 } })",
                "`config.output.top_logprobs` needs `config.output.logprobs`");
  absl::StatusOr<ValidatedGeneration> v =
      Validate(R"(prompts { text: "a" } config { output { logprobs: true top_logprobs: 2 } })");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->logprobs);
  EXPECT_EQ(v->top_logprobs, 2);
}

TEST_F(ValidationTest, OptionsOfAnotherSpeculationModeAreRejected) {
  ExpectInvalid(R"(prompts { text: "a" } config { speculation {
                   mode: SPECULATION_MODE_DRAFT_MODEL self_speculative { exit_layer: 1 } } })",
                "`config.speculation.self_speculative.exit_layer` is only valid with speculation "
                "mode SELF_SPECULATIVE; this request runs SPECULATION_MODE_DRAFT_MODEL");
  ExpectInvalid(R"(prompts { text: "a" } config { speculation {
                   mode: SPECULATION_MODE_DRAFT_MODEL ngram { max_ngram_size: 4 } } })",
                "`config.speculation.ngram` is only valid with speculation mode NGRAM");
  // Unset mode: the server default (DRAFT_MODEL here) is the mode that runs.
  ExpectInvalid(R"(prompts { text: "a" } config { speculation { ngram { min_ngram_size: 2 } } })",
                "`config.speculation.ngram` is only valid with speculation mode NGRAM");
  EXPECT_TRUE(Validate(R"(prompts { text: "a" } config { speculation {
                          mode: SPECULATION_MODE_SELF_SPECULATIVE
                          self_speculative { exit_layer: 2 } } })").ok());
  EXPECT_TRUE(Validate(R"(prompts { text: "a" } config { speculation {
                          mode: SPECULATION_MODE_NGRAM ngram { min_ngram_size: 2 } } })").ok());
}

TEST_F(ValidationTest, AdaptiveMinDraftLengthIsCheckedAndPassedOn) {
  ExpectInvalid(R"(prompts { text: "a" } config { speculation { adaptive {
                   min_draft_length: 5 max_draft_length: 4 } } })",
                "`config.speculation.adaptive.min_draft_length` must be in [0, max_draft_length=4]"
                ", got 5");
  ExpectInvalid(R"(prompts { text: "a" } config { speculation { adaptive {
                   min_draft_length: 3 initial_draft_length: 2 } } })",
                "`config.speculation.adaptive.initial_draft_length` must be 0 or in "
                "[min_draft_length=3, max_draft_length=16], got 2");
  absl::StatusOr<ValidatedGeneration> v = Validate(R"(prompts { text: "a" } config {
      speculation { adaptive { min_draft_length: 2 max_draft_length: 6 } } })");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->base.speculation.adaptive);
  EXPECT_EQ(v->base.speculation.min_draft_length, 2);
  EXPECT_EQ(v->base.speculation.max_draft_length, 6);
}

TEST_F(ValidationTest, TreeShapeIsFixedWhenSetAdaptiveOnlyWithAdaptiveGamma) {
  limits_.default_tree_alternatives = 1;
  limits_.default_tree_depth = 2;
  // Fixed γ, no tree: chains (a seeded result stays reproducible).
  absl::StatusOr<ValidatedGeneration> v = Validate(R"(prompts { text: "a" } config {
      speculation { mode: SPECULATION_MODE_DRAFT_MODEL fixed_draft_length: 3 } })");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->base.speculation.tree_alternatives, 0);
  EXPECT_FALSE(v->base.speculation.adaptive_tree);
  // Adaptive γ, no tree: the default tree, adaptive.
  v = Validate(R"(prompts { text: "a" } config {
      speculation { mode: SPECULATION_MODE_DRAFT_MODEL adaptive {} } })");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->base.speculation.tree_alternatives, 1);
  EXPECT_EQ(v->base.speculation.tree_depth, 2);
  EXPECT_TRUE(v->base.speculation.adaptive_tree);
  // A tree set by the request: drafted every round, whatever γ.
  v = Validate(R"(prompts { text: "a" } config { speculation {
      mode: SPECULATION_MODE_DRAFT_MODEL adaptive {} tree { alternatives: 2 depth: 3 } } })");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->base.speculation.tree_alternatives, 2);
  EXPECT_EQ(v->base.speculation.tree_depth, 3);
  EXPECT_FALSE(v->base.speculation.adaptive_tree);
  ExpectInvalid(R"(prompts { text: "a" } config { speculation {
      mode: SPECULATION_MODE_NGRAM tree { alternatives: 1 depth: 1 } } })",
                "`config.speculation.tree` is only valid with speculation mode DRAFT_MODEL");
}

TEST_F(ValidationTest, EnumValuesOutsideTheirEnumAreRejected) {
  ExpectInvalid(R"(prompts { text: "a" } config { beam_search { early_stopping: 99 } })",
                "`config.beam_search.early_stopping` must be an EarlyStopping value, got 99");
  ExpectInvalid(R"(prompts { text: "a" } config { speculation { mode: 99 } })",
                "`config.speculation.mode` must be a SpeculationMode value, got 99");
  ExpectInvalid(R"(prompts { text: "a" } config { sampling { preset: 99 } })",
                "`config.sampling.preset` has unknown value 99");
}

TEST_F(ValidationTest, MaxTimeMustBeAValidDurationInRange) {
  ExpectInvalid(R"(prompts { text: "a" } config { stopping { max_time { nanos: 2000000000 } } })",
                "`config.stopping.max_time` is not a valid Duration");
  ExpectInvalid(R"(prompts { text: "a" } config { stopping {
                   max_time { seconds: 1 nanos: -1 } } })",
                "`config.stopping.max_time` is not a valid Duration");
  ExpectInvalid(R"(prompts { text: "a" } config { stopping { max_time { seconds: 3601 } } })",
                "`config.stopping.max_time` must be in (0, 1h]");
  EXPECT_TRUE(Validate(R"(prompts { text: "a" } config { stopping {
                          max_time { seconds: 3599 nanos: 999999999 } } })").ok());
}

// 22 s of CPU went into tokenizing a 10 MB prompt before its length was
// checked; the byte bound comes first.
TEST_F(ValidationTest, OversizedTextPromptIsRejectedBeforeTokenizing) {
  const int64_t limit = MaxPromptBytes(target_.context_length);
  ASSERT_EQ(limit, kMaxPromptBytesPerToken * 32);
  v1::GenerateRequest r;
  r.add_prompts()->set_text(std::string(10 << 20, 'a'));
  const absl::Time start = absl::Now();
  absl::StatusOr<ValidatedGeneration> v =
      ValidateGenerate("", r.prompts(), r.config(), target_, {3}, *tokenizer_, limits_);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100)) << "tokenized first?";
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(v.status().message()),
              HasSubstr(absl::StrCat("`prompts[0].text` is 10485760 bytes; it must be at most ",
                                     limit, " bytes")));
  // At the limit the length in tokens decides.
  ExpectInvalid(absl::StrCat(R"(prompts { text: ")", std::string(limit, 'a'), R"(" })"),
                "`prompts[0]` has 1024 tokens; it must be shorter than the context (32 tokens)");
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
