#include "decoding/backend_beam_search.h"

#include <cmath>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "decoding/beam_search_decoder.h"
#include "decoding/engines.h"
#include "decoding/local_backends.h"
#include "model/testing/fake_model.h"
#include "model/transformer_model.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::decoding {
namespace {

using ::testing::ElementsAre;

std::vector<float> Log(std::vector<double> p) {
  std::vector<float> out;
  for (double x : p) out.push_back(static_cast<float>(std::log(x)));
  return out;
}

// The hand-computed case of beam_search_decoder_test, through engine
// sessions (Score + Fork) instead of model sequences.
TEST(BackendBeamSearchTest, FindsTheHandComputedBestSequence) {
  auto model = model::testing::FakeModel::FromTable(
      4,
      {{{3}, Log({0.5, 0.4, 0.1, 1e-9})},
       {{3, 0}, Log({0.42, 0.33, 0.25, 1e-9})},
       {{3, 1}, Log({0.05, 0.05, 0.9, 1e-9})}},
      Log({0.25, 0.25, 0.25, 0.25}));
  TargetEngine engine(*model, 0);
  LocalTargetBackend target(engine);
  BackendBeamSearchRequest r;
  r.prompt = {3};
  r.options.num_beams = 2;
  r.options.num_return_sequences = 2;
  r.options.eos_token_ids = {2};
  r.options.max_new_tokens = 2;
  auto result = RunBackendBeamSearch(r, target);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->sequences.size(), 2u);
  EXPECT_THAT(result->sequences[0].hypothesis.tokens, ElementsAre(1, 2));
  EXPECT_NEAR(result->sequences[0].hypothesis.score, std::log(0.36) / 2, 1e-5);
  EXPECT_THAT(result->sequences[1].hypothesis.tokens, ElementsAre(0, 0));
  // Per-token logprobs from the table: 0.4 then 0.9; 0.5 then 0.42.
  ASSERT_EQ(result->sequences[0].steps.size(), 2u);
  EXPECT_NEAR(result->sequences[0].steps[0].logprob, std::log(0.4), 1e-5);
  EXPECT_NEAR(result->sequences[0].steps[1].logprob, std::log(0.9), 1e-5);
  EXPECT_NEAR(result->sequences[1].steps[0].logprob, std::log(0.5), 1e-5);
  EXPECT_NEAR(result->sequences[1].steps[1].logprob, std::log(0.42), 1e-5);
  EXPECT_FALSE(result->timed_out);
  EXPECT_EQ(engine.num_sessions(), 0);
  EXPECT_EQ(model->num_sequences(), 0);
}

// On a real (random) transformer, the session-based search equals the
// model-level search of decoding/beam_search_decoder.h.
TEST(BackendBeamSearchTest, EqualsModelLevelBeamSearch) {
  model::ModelConfig c = model::testing::TinyLlamaConfig();
  c.max_position_embeddings = 64;
  auto m = *model::TransformerModel::Create(model::testing::RandomCheckpoint(c, 11), {});
  TargetEngine engine(*m, 0);
  LocalTargetBackend target(engine);
  for (int beams : {2, 4}) {
    BackendBeamSearchRequest r;
    r.prompt = {5, 17, 33};
    r.options.num_beams = beams;
    r.options.num_return_sequences = beams;
    r.options.eos_token_ids = {7};
    r.options.max_new_tokens = 12;
    r.session.params.repetition_penalty = 1.3;
    auto ours = RunBackendBeamSearch(r, target);
    ASSERT_TRUE(ours.ok()) << ours.status();
    BeamSearchRequest direct{r.prompt, r.options, r.session.params};
    model::SequenceId next = 1 << 20;
    auto expected = RunBeamSearch(*m, direct, [&] { return next++; });
    ASSERT_TRUE(expected.ok());
    ASSERT_EQ(ours->sequences.size(), expected->size());
    for (size_t i = 0; i < ours->sequences.size(); ++i) {
      const BeamSearchSequence& seq = ours->sequences[i];
      EXPECT_EQ(seq.hypothesis.tokens, (*expected)[i].tokens) << "beams " << beams << " rank " << i;
      EXPECT_NEAR(seq.hypothesis.score, (*expected)[i].score, 1e-4);
      // The per-token logprobs add up to the hypothesis' sum.
      double sum = 0;
      for (const sampling::StepResult& t : seq.steps) sum += t.logprob;
      EXPECT_NEAR(sum, seq.hypothesis.sum_logprobs, 1e-4);
      ASSERT_EQ(seq.steps.size(), seq.hypothesis.tokens.size());
    }
  }
  EXPECT_EQ(m->num_sequences(), 0);
}

// Streaming, alternatives, stop predicates and the deadline on a real
// (random) transformer.
class BeamSearchOnTransformer : public ::testing::Test {
 protected:
  void SetUp() override {
    model::ModelConfig c = model::testing::TinyLlamaConfig();
    c.max_position_embeddings = 64;
    model_ = *model::TransformerModel::Create(model::testing::RandomCheckpoint(c, 11), {});
    engine_ = std::make_unique<TargetEngine>(*model_, 0);
    target_ = std::make_unique<LocalTargetBackend>(*engine_);
  }

  static BackendBeamSearchRequest Request(int beams, int returned) {
    BackendBeamSearchRequest r;
    r.prompt = {5, 17, 33};
    r.options.num_beams = beams;
    r.options.num_return_sequences = returned;
    r.options.eos_token_ids = {7};
    r.options.max_new_tokens = 12;
    return r;
  }

  std::unique_ptr<model::Model> model_;
  std::unique_ptr<TargetEngine> engine_;
  std::unique_ptr<LocalTargetBackend> target_;
};

TEST_F(BeamSearchOnTransformer, StreamsTheBestSequenceOnceInOrderWithAlternatives) {
  BackendBeamSearchRequest r = Request(4, 1);
  r.top_logprobs = 3;
  std::vector<sampling::StepResult> streamed;
  int calls = 0;
  r.on_final_tokens = [&](absl::Span<const sampling::StepResult> tokens) {
    ++calls;
    streamed.insert(streamed.end(), tokens.begin(), tokens.end());
  };
  auto result = RunBackendBeamSearch(r, *target_);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->sequences.size(), 1u);
  const BeamSearchSequence& best = result->sequences[0];
  ASSERT_EQ(streamed.size(), best.hypothesis.tokens.size());
  EXPECT_GE(calls, 1);
  for (size_t i = 0; i < streamed.size(); ++i) {
    EXPECT_EQ(streamed[i].token, best.hypothesis.tokens[i]) << i;
    EXPECT_DOUBLE_EQ(streamed[i].logprob, best.steps[i].logprob) << i;
    ASSERT_EQ(streamed[i].top.size(), 3u);
    EXPECT_GE(streamed[i].top[0].logprob, streamed[i].logprob);
    EXPECT_GE(streamed[i].top[0].logprob, streamed[i].top[1].logprob);
    EXPECT_GE(streamed[i].top[1].logprob, streamed[i].top[2].logprob);
  }
  // The same search without streaming returns the same sequence.
  auto plain = RunBackendBeamSearch(Request(4, 1), *target_);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->sequences[0].hypothesis.tokens, best.hypothesis.tokens);
  EXPECT_EQ(model_->num_sequences(), 0);
}

TEST_F(BeamSearchOnTransformer, EndsHypothesisFinishesBeamsAndDeadlineStopsTheSearch) {
  auto plain = RunBackendBeamSearch(Request(2, 2), *target_);
  ASSERT_TRUE(plain.ok());
  const std::vector<int64_t> best = plain->sequences[0].hypothesis.tokens;
  ASSERT_GE(best.size(), 3u);
  // Declare the best sequence's first two tokens a stop: no beam goes past them.
  BackendBeamSearchRequest r = Request(2, 2);
  const std::vector<int64_t> stop(best.begin(), best.begin() + 2);
  bool asked = false;
  r.options.ends_hypothesis = [&](const std::vector<int64_t>& t) {
    asked |= t == stop;
    return t == stop;
  };
  auto stopped = RunBackendBeamSearch(r, *target_);
  ASSERT_TRUE(stopped.ok());
  EXPECT_TRUE(asked);
  for (const BeamSearchSequence& s : stopped->sequences) {
    const auto& t = s.hypothesis.tokens;
    EXPECT_FALSE(t.size() > stop.size() && std::equal(stop.begin(), stop.end(), t.begin()))
        << "a returned sequence continues past the stop";
  }
  EXPECT_NE(stopped->sequences[0].hypothesis.tokens, best);

  BackendBeamSearchRequest late = Request(2, 2);
  late.deadline = absl::InfinitePast();
  auto timed = RunBackendBeamSearch(late, *target_);
  ASSERT_TRUE(timed.ok());
  EXPECT_TRUE(timed->timed_out);
  for (const BeamSearchSequence& s : timed->sequences) {
    EXPECT_EQ(s.hypothesis.tokens.size(), 1u);  // One step always runs.
  }
  EXPECT_EQ(model_->num_sequences(), 0);
}

}  // namespace
}  // namespace tandem::decoding
