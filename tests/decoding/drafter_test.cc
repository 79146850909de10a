// The Drafter seam and pipelined drafting: sampled output through the
// decoding loop with pipelining still follows the target's distribution
// (chi-square over tokens drafted ahead, with a negative control through the
// same path that must fail), greedy output is identical with and without
// pipelining, pre-drafts are used when their outcome comes true, and nothing
// leaks when a request stops with a pre-draft in flight.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "decoding/draft_model_drafter.h"
#include "decoding/drafter.h"
#include "decoding/engines.h"
#include "decoding/fallback_drafter.h"
#include "decoding/generator.h"
#include "decoding/local_backends.h"
#include "model/testing/fake_model.h"
#include "model/transformer_model.h"
#include "tests/decoding/local_pair.h"
#include "tests/decoding/markov_chain.h"
#include "tests/model/random_checkpoint.h"
#include "tests/testing/statistics.h"

namespace tandem::decoding {
namespace {

constexpr int kVocab = testing::kMarkovVocab;
using testing::MarkovRow;
using testing::Softmax;

// Reports each drafted token with the q of the token before it (the first
// with the last one's): the off-by-one a pipelined drafter could make when
// it drops the pre-drafted bonus guess from the tokens but not from their
// distributions. Lossless verification needs the q each token was drawn
// from, so output through this backend must NOT follow the target (the
// negative control). (Claiming one-hot q would not do: a fixed proposal is
// verified exactly whatever it is.)
class ShiftedQDraft : public DraftBackend {
 public:
  explicit ShiftedQDraft(DraftBackend& inner) : inner_(inner) {}
  model::ModelInfo Info() override { return inner_.Info(); }
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override {
    return inner_.Open(prompt, options);
  }
  absl::StatusOr<TimedDraft> Propose(const ProposeItem& item) override {
    absl::StatusOr<TimedDraft> d = inner_.Propose(item);
    if (d.ok() && d->draft.dists.size() > 1) {
      std::rotate(d->draft.dists.begin(), d->draft.dists.end() - 1, d->draft.dists.end());
    }
    return d;
  }
  void Close(SessionId session) override { inner_.Close(session); }

 private:
  DraftBackend& inner_;
};

struct ChiSquareRun {
  tandem::testing::GoodnessOfFit fit;
  int64_t drafted = 0, accepted = 0, pre_drafts = 0, pre_draft_hits = 0;
};

// Samples 6 tokens after the prompt with the draft model, γ = 3, pipelined,
// and tests the joint distribution of the 5th and 6th tokens (always drafted
// in a later round than the first, so after a pre-draft or a rollback)
// against the chain's exact marginal.
ChiSquareRun SampleLateTokens(bool lie_about_q) {
  testing::MarkovPair pair;
  LocalTargetBackend& target = pair.target;
  LocalDraftBackend& honest = pair.draft;
  ShiftedQDraft liar(honest);
  DraftBackend& draft = lie_about_q ? static_cast<DraftBackend&>(liar) : honest;

  ChiSquareRun run;
  std::vector<int64_t> counts(kVocab * kVocab);
  const int runs = tandem::testing::StatRounds(20000);
  for (int i = 0; i < runs; ++i) {
    GenerateRequest r;
    r.prompt = {0, 3, 2};
    r.session.params.temperature = 1.0;
    r.session.seed = i;
    r.stop.max_new_tokens = 6;
    r.speculation.mode = SpeculationMode::kDraftModel;
    r.speculation.draft_length = 3;
    r.speculation.pipelined = true;
    auto out = Generate(r, target, &draft, {});
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok() || out->tokens.size() != 6u) return run;
    ++counts[out->tokens[4].token * kVocab + out->tokens[5].token];
    run.drafted += out->stats.drafted;
    run.accepted += out->stats.accepted;
    run.pre_drafts += out->stats.pre_drafts;
    run.pre_draft_hits += out->stats.pre_draft_hits;
  }
  // P(t4 = a, t5 = b) = (π0 P^4)[a] P[a][b], π0 the first token's law.
  std::vector<std::vector<double>> P(kVocab);
  for (int a = 0; a < kVocab; ++a) P[a] = Softmax(MarkovRow(a, false));
  std::vector<double> pi = Softmax(MarkovRow(2, false));
  for (int step = 0; step < 4; ++step) {
    std::vector<double> next(kVocab, 0.0);
    for (int a = 0; a < kVocab; ++a) {
      for (int b = 0; b < kVocab; ++b) next[b] += pi[a] * P[a][b];
    }
    pi = next;
  }
  std::vector<double> expected(kVocab * kVocab);
  for (int a = 0; a < kVocab; ++a) {
    for (int b = 0; b < kVocab; ++b) expected[a * kVocab + b] = pi[a] * P[a][b];
  }
  run.fit = tandem::testing::ChiSquareTest(counts, expected);
  EXPECT_EQ(pair.target_model.num_sequences(), 0);
  EXPECT_EQ(pair.draft_model.num_sequences(), 0);
  return run;
}

TEST(PipelinedDraftingTest, SampledTokensAfterPreDraftsFollowTheTarget) {
  const ChiSquareRun run = SampleLateTokens(/*lie_about_q=*/false);
  EXPECT_GT(run.fit.p_value, 1e-3) << run.fit.ToString();
  EXPECT_EQ(run.fit.impossible, 0);
  // The path under test was really taken: drafts, rejections, pre-drafts
  // both used and discarded.
  EXPECT_GT(run.accepted, 0);
  EXPECT_GT(run.drafted - run.accepted, 0);
  EXPECT_GT(run.pre_draft_hits, 0);
  EXPECT_GT(run.pre_drafts - run.pre_draft_hits, 0);
}

TEST(PipelinedDraftingTest, NegativeControlDrafterThatMisstatesQFails) {
  const ChiSquareRun run = SampleLateTokens(/*lie_about_q=*/true);
  EXPECT_LT(run.fit.p_value, 1e-3) << run.fit.ToString();
  EXPECT_GT(run.pre_draft_hits, 0);
}

using Pair = testing::LocalPair;

std::vector<int64_t> Ids(const GenerationResult& r) {
  std::vector<int64_t> out;
  for (const auto& s : r.tokens) out.push_back(s.token);
  return out;
}

TEST(PipelinedDraftingTest, GreedyIdenticalWithAndWithoutPipeliningAndPreDraftsHit) {
  Pair pair;
  int64_t hits = 0, misses = 0;
  for (const std::vector<int64_t>& prompt :
       std::vector<std::vector<int64_t>>{{1, 2, 3}, {7}, {4, 4, 4, 4}, {9, 8, 7, 6, 5}}) {
    for (int gamma : {1, 3, 5}) {
      GenerateRequest r;
      r.prompt = prompt;
      r.session.params.temperature = 0;
      r.stop.max_new_tokens = 48;
      r.speculation.mode = SpeculationMode::kOff;
      auto reference = Generate(r, pair.target(), nullptr, {});
      ASSERT_TRUE(reference.ok()) << reference.status();
      EXPECT_EQ(reference->stats.plain_rounds, reference->stats.rounds);
      r.speculation.mode = SpeculationMode::kDraftModel;
      r.speculation.draft_length = gamma;
      for (bool pipelined : {false, true}) {
        r.speculation.pipelined = pipelined;
        auto got = Generate(r, pair.target(), &pair.draft(), {});
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(Ids(*got), Ids(*reference)) << "γ " << gamma << " pipelined " << pipelined;
        if (!pipelined) {
          EXPECT_EQ(got->stats.pre_drafts, 0);
        }
        hits += got->stats.pre_draft_hits;
        misses += got->stats.pre_drafts - got->stats.pre_draft_hits;
        EXPECT_LE(got->stats.pre_draft_hits, got->stats.pre_drafts);
        EXPECT_LT(got->stats.plain_rounds, got->stats.rounds);
      }
    }
  }
  EXPECT_GT(hits, 0);
  EXPECT_GT(misses, 0);
  EXPECT_EQ(pair.target_engine().num_sessions(), 0);
  EXPECT_EQ(pair.draft_engine().num_sessions(), 0);
}

TEST(PipelinedDraftingTest, StoppingWithAPreDraftInFlightReleasesEverything) {
  Pair pair;
  for (int stop_after = 1; stop_after <= 3; ++stop_after) {
    GenerateRequest r;
    r.prompt = {3, 1, 4, 1, 5};
    r.session.params.temperature = 0;
    r.stop.max_new_tokens = 64;
    r.speculation.mode = SpeculationMode::kDraftModel;
    r.speculation.draft_length = 4;
    int rounds = 0;
    auto out = Generate(r, pair.target(), &pair.draft(),
                        [&](absl::Span<const sampling::StepResult>) -> std::optional<FinishReason> {
                          if (++rounds == stop_after) return FinishReason::kCancelled;
                          return std::nullopt;
                        });
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->finish, FinishReason::kCancelled);
    EXPECT_GE(out->stats.pre_drafts, 1) << "the stop did not happen mid-pipeline";
    EXPECT_EQ(pair.target_engine().num_sessions(), 0);
    EXPECT_EQ(pair.draft_engine().num_sessions(), 0);
  }
}

// A draft backend that fails every call after the first `ok_calls`.
class FailingAfter : public DraftBackend {
 public:
  FailingAfter(DraftBackend& inner, int ok_calls) : inner_(inner), left_(ok_calls) {}
  model::ModelInfo Info() override { return inner_.Info(); }
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override {
    return inner_.Open(prompt, options);
  }
  absl::StatusOr<TimedDraft> Propose(const ProposeItem& item) override {
    if (left_-- <= 0) return absl::UnavailableError("draft replica gone");
    return inner_.Propose(item);
  }
  void Close(SessionId session) override { inner_.Close(session); }

 private:
  DraftBackend& inner_;
  std::atomic<int> left_;
};

TEST(PipelinedDraftingTest, FailedPreDraftFallsBackToTargetOnlyWithSameOutput) {
  Pair pair;
  GenerateRequest r;
  r.prompt = {2, 7, 1, 8};
  r.session.params.temperature = 0;
  r.stop.max_new_tokens = 40;
  auto reference = Generate(r, pair.target(), nullptr, {});
  ASSERT_TRUE(reference.ok());
  for (int ok_calls : {0, 1, 2, 5}) {
    FailingAfter flaky(pair.draft(), ok_calls);
    r.speculation.mode = SpeculationMode::kDraftModel;
    r.speculation.draft_length = 3;
    auto got = Generate(r, pair.target(), &flaky, {});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(Ids(*got), Ids(*reference)) << ok_calls;
    EXPECT_TRUE(got->stats.fell_back_to_target_only) << ok_calls;
    EXPECT_EQ(pair.draft_engine().num_sessions(), 0);
  }
}

// Counts the draft sessions opened.
class CountingDraft : public DraftBackend {
 public:
  explicit CountingDraft(DraftBackend& inner) : inner_(inner) {}
  model::ModelInfo Info() override { return inner_.Info(); }
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override {
    ++opens;
    return inner_.Open(prompt, options);
  }
  absl::StatusOr<TimedDraft> Propose(const ProposeItem& item) override {
    return inner_.Propose(item);
  }
  void Close(SessionId session) override { inner_.Close(session); }
  std::atomic<int> opens{0};

 private:
  DraftBackend& inner_;
};

// A target that reports a fixed load signal with every verify result: each
// row costs `per_row` beside the step's other rows (saturated) or the step
// costs the same for up to 9 rows (idle, memory-bound).
class LoadSignalTarget : public LocalTargetBackend {
 public:
  LoadSignalTarget(TargetEngine& engine, bool saturated)
      : LocalTargetBackend(engine), saturated_(saturated) {}
  absl::StatusOr<TimedVerify> Verify(const VerifyItem& item) override {
    absl::StatusOr<TimedVerify> v = LocalTargetBackend::Verify(item);
    if (v.ok()) {
      v->outcome.marginal_seconds.clear();
      for (int k = 1; k <= 9; ++k) {
        v->outcome.marginal_seconds.push_back(saturated_ ? 0.6e-3f * k : 2e-3f);
      }
    }
    return v;
  }

 private:
  const bool saturated_;
};

// The draft session opens with the first proposal: an adaptive request on a
// saturated target never drafts and so never opens one (the draft service
// does no work for it), with output identical to target-only. The control:
// the same request on an idle target opens its session and drafts.
TEST(LazyDraftSessionTest, AnAdaptiveRequestOnASaturatedTargetOpensNoDraftSession) {
  Pair pair;
  GenerateRequest r;
  r.prompt = {3, 1, 4, 1, 5};
  r.session.params.temperature = 0;
  r.stop.max_new_tokens = 40;
  auto reference = Generate(r, pair.target(), nullptr, {});
  ASSERT_TRUE(reference.ok());
  r.speculation.mode = SpeculationMode::kDraftModel;
  r.speculation.draft_length = 3;
  r.speculation.adaptive = true;
  for (bool saturated : {true, false}) {
    LoadSignalTarget target(pair.target_engine(), saturated);
    CountingDraft draft(pair.draft());
    auto got = Generate(r, target, &draft, {});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(Ids(*got), Ids(*reference)) << saturated;
    if (saturated) {
      EXPECT_EQ(draft.opens, 0);
      EXPECT_EQ(got->stats.plain_rounds, got->stats.rounds);
      EXPECT_EQ(got->stats.drafted, 0);
    } else {
      EXPECT_EQ(draft.opens, 1);
      EXPECT_GT(got->stats.drafted, 0);
      EXPECT_LT(got->stats.plain_rounds, got->stats.rounds);
    }
    EXPECT_FALSE(got->stats.fell_back_to_target_only);
    EXPECT_EQ(pair.draft_engine().num_sessions(), 0);
    EXPECT_EQ(pair.target_engine().num_sessions(), 0);
  }
}

TEST(DraftEngineGuessTest, GuessFirstTakesTheArgmaxEvenWhenSampling) {
  Pair pair;
  SessionOptions greedy;
  greedy.params.temperature = 0;
  SessionOptions sampled;
  sampled.params.temperature = 1.5;  // Flat enough that samples often miss the argmax.
  const std::vector<int64_t> prompt = {5, 6, 7};
  SessionId g = *pair.draft_engine().Open(prompt, greedy);
  const int64_t argmax = pair.draft_engine().Propose({ProposeItem{g, {3, {}}, 1}})[0].draft.tokens[0];
  int guessed_argmax = 0, sampled_argmax = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    sampled.seed = seed;
    SessionId s = *pair.draft_engine().Open(prompt, sampled);
    std::vector<DraftOutcome> guess =
        pair.draft_engine().Propose({ProposeItem{s, {3, {}}, 3, /*guess_first=*/true}});
    ASSERT_TRUE(guess[0].status.ok()) << guess[0].status;
    ASSERT_EQ(guess[0].draft.tokens.size(), 3u);
    guessed_argmax += guess[0].draft.tokens[0] == argmax;
    std::vector<DraftOutcome> plain = pair.draft_engine().Propose({ProposeItem{s, {3, {}}, 1}});
    sampled_argmax += plain[0].draft.tokens[0] == argmax;
    ASSERT_TRUE(pair.draft_engine().Close(s).ok());
  }
  EXPECT_EQ(guessed_argmax, 40);
  EXPECT_LT(sampled_argmax, 40) << "the control: plain sampled drafts do leave the argmax";
  ASSERT_TRUE(pair.draft_engine().Close(g).ok());
}

TEST(MakeDrafterTest, OneStrategyPerModeAndDraftModelNeedsADraftBackend) {
  SessionOptions session;
  SpeculationOptions o;
  o.mode = SpeculationMode::kOff;
  auto off = MakeDrafter(o, {nullptr, nullptr, &session});
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, nullptr);
  o.mode = SpeculationMode::kNgram;
  auto ngram = MakeDrafter(o, {nullptr, nullptr, &session});
  ASSERT_TRUE(ngram.ok());
  ASSERT_NE(*ngram, nullptr);
  auto p = (*ngram)->Propose({5, 6, 7, 5, 6}, 2);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->draft.tokens, (std::vector<int64_t>{7, 5}));
  o.mode = SpeculationMode::kDraftModel;
  auto none = MakeDrafter(o, {nullptr, nullptr, &session});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tandem::decoding
