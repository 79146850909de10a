#include "decoding/backend_beam_search.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
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

// Speculative beam search: a draft (another engine) proposes trees; the
// result must be the plain search's, token for token and score for score,
// whatever the draft is, and a draft that agrees with the target must save
// target passes.
class SpeculativeBeamSearch : public BeamSearchOnTransformer {
 protected:
  void SetUp() override {
    BeamSearchOnTransformer::SetUp();
    model::ModelConfig c = model::testing::TinyLlamaConfig();
    c.max_position_embeddings = 64;
    // The same weights as the target: the draft's search is the target's.
    same_ = *model::TransformerModel::Create(model::testing::RandomCheckpoint(c, 11), {});
    // Unrelated weights: its trees rarely hold the target's beams.
    other_ = *model::TransformerModel::Create(model::testing::RandomCheckpoint(c, 99), {});
    same_engine_ = std::make_unique<DraftEngine>(*same_, 0);
    other_engine_ = std::make_unique<DraftEngine>(*other_, 0);
    same_draft_ = std::make_unique<LocalDraftBackend>(*same_engine_);
    other_draft_ = std::make_unique<LocalDraftBackend>(*other_engine_);
  }

  static void ExpectSame(const BeamSearchResult& got, const BeamSearchResult& want,
                         const std::string& what) {
    ASSERT_EQ(got.sequences.size(), want.sequences.size()) << what;
    for (size_t i = 0; i < got.sequences.size(); ++i) {
      const BeamSearchSequence& g = got.sequences[i];
      const BeamSearchSequence& w = want.sequences[i];
      EXPECT_EQ(g.hypothesis.tokens, w.hypothesis.tokens) << what << " rank " << i;
      EXPECT_NEAR(g.hypothesis.score, w.hypothesis.score, 1e-6) << what << " rank " << i;
      ASSERT_EQ(g.steps.size(), w.steps.size()) << what;
      for (size_t t = 0; t < g.steps.size(); ++t) {
        EXPECT_NEAR(g.steps[t].logprob, w.steps[t].logprob, 1e-6) << what << " token " << t;
        ASSERT_EQ(g.steps[t].top.size(), w.steps[t].top.size()) << what;
        for (size_t k = 0; k < g.steps[t].top.size(); ++k) {
          EXPECT_EQ(g.steps[t].top[k].token, w.steps[t].top[k].token) << what;
        }
      }
    }
  }

  std::unique_ptr<model::Model> same_, other_;
  std::unique_ptr<DraftEngine> same_engine_, other_engine_;
  std::unique_ptr<LocalDraftBackend> same_draft_, other_draft_;
};

TEST_F(SpeculativeBeamSearch, EqualsPlainBeamSearchWithAnyDraft) {
  struct Case {
    int beams, returned, draft_steps, max_new, top_logprobs;
    double repetition_penalty;
  };
  for (const Case& k : {Case{2, 2, 3, 12, 0, 1.0}, Case{4, 1, 3, 12, 2, 1.3},
                        Case{4, 4, 1, 10, 0, 1.0}, Case{3, 2, 4, 16, 0, 1.5},
                        Case{4, 2, 8, 3, 0, 1.0}, Case{2, 1, 2, 1, 0, 1.0},
                        Case{16, 3, 2, 6, 0, 1.0}}) {
    BackendBeamSearchRequest r = Request(k.beams, k.returned);
    r.options.max_new_tokens = k.max_new;
    r.session.params.repetition_penalty = k.repetition_penalty;
    r.top_logprobs = k.top_logprobs;
    auto plain = RunBackendBeamSearch(r, *target_);
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_EQ(plain->target_passes, plain->steps);
    EXPECT_EQ(plain->drafted_nodes, 0);
    for (LocalDraftBackend* draft : {same_draft_.get(), other_draft_.get()}) {
      const std::string what = absl::StrCat("beams ", k.beams, " draft_steps ", k.draft_steps,
                                            " max_new ", k.max_new, " penalty ",
                                            k.repetition_penalty,
                                            draft == same_draft_.get() ? " same" : " other");
      BackendBeamSearchRequest spec = r;
      spec.draft = draft;
      spec.draft_steps = k.draft_steps;
      const int64_t batches_before = target_->score_batches();
      auto got = RunBackendBeamSearch(spec, *target_);
      ASSERT_TRUE(got.ok()) << what << ": " << got.status();
      // Every pass scored all beams and their trees in one engine step.
      EXPECT_EQ(target_->score_batches() - batches_before, got->target_passes) << what;
      ExpectSame(*got, *plain, what);
      EXPECT_EQ(got->steps, plain->steps) << what;
      EXPECT_LE(got->target_passes, got->steps) << what;
      EXPECT_FALSE(got->draft_fell_back) << what;
      if (draft == same_draft_.get() && k.max_new > 1) {
        EXPECT_GT(got->drafted_nodes, 0) << what;
        // The draft's search is the target's: each pass takes up to
        // draft_steps + 1 steps.
        EXPECT_LE(got->target_passes,
                  (got->steps + k.draft_steps) / (k.draft_steps + 1) + 1) << what;
      }
    }
  }
  EXPECT_EQ(engine_->num_sessions(), 0);
  EXPECT_EQ(same_engine_->num_sessions(), 0);
  EXPECT_EQ(other_engine_->num_sessions(), 0);
  EXPECT_EQ(model_->num_sequences(), 0);
}

TEST_F(SpeculativeBeamSearch, StreamsStopsAndTimesOutAsPlain) {
  BackendBeamSearchRequest r = Request(4, 1);
  r.top_logprobs = 3;
  auto plain = RunBackendBeamSearch(r, *target_);
  ASSERT_TRUE(plain.ok());
  std::vector<sampling::StepResult> streamed;
  r.on_final_tokens = [&](absl::Span<const sampling::StepResult> tokens) {
    streamed.insert(streamed.end(), tokens.begin(), tokens.end());
  };
  r.draft = same_draft_.get();
  auto got = RunBackendBeamSearch(r, *target_);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSame(*got, *plain, "streaming");
  ASSERT_EQ(streamed.size(), got->sequences[0].steps.size());
  for (size_t i = 0; i < streamed.size(); ++i) {
    EXPECT_EQ(streamed[i].token, got->sequences[0].hypothesis.tokens[i]);
  }
  // A stop predicate ends beams inside a pass as it does between passes.
  const std::vector<int64_t> best = plain->sequences[0].hypothesis.tokens;
  ASSERT_GE(best.size(), 3u);
  const std::vector<int64_t> stop(best.begin(), best.begin() + 2);
  BackendBeamSearchRequest s = Request(2, 2);
  s.options.ends_hypothesis = [&](const std::vector<int64_t>& t) { return t == stop; };
  auto plain_stopped = RunBackendBeamSearch(s, *target_);
  s.draft = same_draft_.get();
  auto spec_stopped = RunBackendBeamSearch(s, *target_);
  ASSERT_TRUE(plain_stopped.ok() && spec_stopped.ok());
  ExpectSame(*spec_stopped, *plain_stopped, "stop");
  // The deadline: one pass always runs, and its steps are kept.
  BackendBeamSearchRequest late = Request(2, 2);
  late.deadline = absl::InfinitePast();
  late.draft = same_draft_.get();
  auto timed = RunBackendBeamSearch(late, *target_);
  ASSERT_TRUE(timed.ok());
  EXPECT_TRUE(timed->timed_out);
  EXPECT_EQ(timed->target_passes, 1);
  EXPECT_EQ(engine_->num_sessions(), 0);
  EXPECT_EQ(same_engine_->num_sessions(), 0);
}

// A draft that fails turns speculation off; the search still succeeds.
class FailingDraft : public DraftBackend {
 public:
  explicit FailingDraft(DraftBackend& inner) : inner_(inner) {}
  model::ModelInfo Info() override { return inner_.Info(); }
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override {
    return inner_.Open(prompt, options);
  }
  absl::StatusOr<TimedDraft> Propose(const ProposeItem&) override {
    ++proposals;
    return absl::UnavailableError("draft replica down");
  }
  void Close(SessionId session) override { inner_.Close(session); }
  int proposals = 0;

 private:
  DraftBackend& inner_;
};

TEST_F(SpeculativeBeamSearch, AFailingDraftFallsBackToPlainSearch) {
  FailingDraft failing(*same_draft_);
  BackendBeamSearchRequest r = Request(4, 2);
  auto plain = RunBackendBeamSearch(r, *target_);
  r.draft = &failing;
  auto got = RunBackendBeamSearch(r, *target_);
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSame(*got, *plain, "failing draft");
  EXPECT_EQ(got->target_passes, got->steps);
  EXPECT_TRUE(got->draft_fell_back);
  EXPECT_EQ(failing.proposals, 1);  // Asked once, then left alone.
  EXPECT_EQ(same_engine_->num_sessions(), 0);
  EXPECT_EQ(engine_->num_sessions(), 0);
}

TEST_F(SpeculativeBeamSearch, RefusesDraftStepsAndBeamsOutOfRange) {
  for (int steps : {0, -1, kMaxBeamDraftSteps + 1}) {
    BackendBeamSearchRequest r = Request(2, 1);
    r.draft = same_draft_.get();
    r.draft_steps = steps;
    auto got = RunBackendBeamSearch(r, *target_);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << steps;
    EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr("draft_steps"));
  }
  for (int beams : {1, -1, kMaxTreeNodes + 1}) {
    BackendBeamSearchRequest r = Request(2, 1);
    r.draft = same_draft_.get();
    r.draft_beams = beams;
    auto got = RunBackendBeamSearch(r, *target_);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << beams;
    EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr("draft_beams"));
  }
  EXPECT_EQ(engine_->num_sessions(), 0);
}

// Whatever depth the adaptive policy picks per pass, and however wide the
// draft's search, the result is the plain one.
TEST_F(SpeculativeBeamSearch, AdaptiveDepthAndWideDraftsKeepTheResult) {
  BackendBeamSearchRequest r = Request(4, 2);
  r.options.max_new_tokens = 20;
  auto plain = RunBackendBeamSearch(r, *target_);
  ASSERT_TRUE(plain.ok());
  for (int draft_beams : {0, 4, 6, 16}) {
    for (bool adaptive : {false, true}) {
      for (LocalDraftBackend* draft : {same_draft_.get(), other_draft_.get()}) {
        BackendBeamSearchRequest spec = r;
        spec.draft = draft;
        spec.draft_steps = 4;
        spec.adaptive_draft_steps = adaptive;
        spec.draft_beams = draft_beams;
        auto got = RunBackendBeamSearch(spec, *target_);
        const std::string what = absl::StrCat("draft_beams ", draft_beams, " adaptive ", adaptive,
                                              draft == same_draft_.get() ? " same" : " other");
        ASSERT_TRUE(got.ok()) << what << ": " << got.status();
        ExpectSame(*got, *plain, what);
        EXPECT_GT(got->drafted_nodes, 0) << what << ": the first pass always drafts";
      }
    }
  }
  EXPECT_EQ(engine_->num_sessions(), 0);
  EXPECT_EQ(same_engine_->num_sessions(), 0);
  EXPECT_EQ(other_engine_->num_sessions(), 0);
}

}  // namespace
}  // namespace tandem::decoding
