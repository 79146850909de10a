// TargetEngine::Step: prefill chunks of registered sessions ride in the same
// forward pass as other sessions' verify rows, a chunked prefill gives the
// same results as a one-shot prefill (bit for bit: the CPU decoder is
// batch-invariant), and bad items fail alone.
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/clock.h"

#include "decoding/engines.h"
#include "model/transformer_model.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::decoding {
namespace {

// Forwards to a real model and records each Forward's requests and rows.
class CountingModel : public model::Model {
 public:
  explicit CountingModel(model::Model& inner) : inner_(inner) {}
  const model::ModelInfo& info() const override { return inner_.info(); }
  absl::StatusOr<std::vector<at::Tensor>> Forward(
      absl::Span<const model::ForwardRequest> batch) override {
    int64_t rows = 0;
    for (const auto& r : batch) rows += static_cast<int64_t>(r.tokens.size());
    calls.push_back({static_cast<int64_t>(batch.size()), rows});
    if (base + per_row > absl::ZeroDuration()) absl::SleepFor(base + per_row * rows);
    return inner_.Forward(batch);
  }
  int64_t Length(model::SequenceId s) const override { return inner_.Length(s); }
  int64_t DraftLength(model::SequenceId s) const override { return inner_.DraftLength(s); }
  absl::Status Truncate(model::SequenceId s, int64_t n) override { return inner_.Truncate(s, n); }
  absl::Status Fork(model::SequenceId a, model::SequenceId b, int64_t n) override {
    return inner_.Fork(a, b, n);
  }
  void Release(model::SequenceId s) override { inner_.Release(s); }
  int64_t num_sequences() const override { return inner_.num_sequences(); }
  int64_t kv_cache_bytes() const override { return inner_.kv_cache_bytes(); }

  struct Call {
    int64_t requests, rows;
  };
  std::vector<Call> calls;
  // When set, each Forward also sleeps base + per_row × rows (a model whose
  // step cost is known, for the load signal).
  absl::Duration base, per_row;

 private:
  model::Model& inner_;
};

std::unique_ptr<model::TransformerModel> TinyTarget() {
  model::ModelConfig c = model::testing::TinyLlamaConfig();
  c.max_position_embeddings = 128;
  return *model::TransformerModel::Create(model::testing::RandomCheckpoint(c, 3),
                                          {at::kBFloat16});
}

std::vector<int64_t> Prompt(int64_t n, int64_t salt) {
  std::vector<int64_t> p;
  for (int64_t i = 0; i < n; ++i) p.push_back(1 + (i * 7 + salt) % 50);
  return p;
}

SessionOptions GreedyOptions() {
  SessionOptions o;
  o.params.temperature = 0;
  o.top_logprobs = 3;
  return o;
}

// Greedy plain decode steps; the emitted tokens and their logprobs.
std::vector<sampling::StepResult> Decode(TargetEngine& engine, SessionId id, int64_t length,
                                         int steps) {
  std::vector<sampling::StepResult> out;
  for (int i = 0; i < steps; ++i) {
    std::vector<VerifyOutcome> o = engine.Verify({VerifyItem{id, {length + i, {}}, {}}});
    EXPECT_TRUE(o[0].status.ok()) << o[0].status;
    if (!o[0].status.ok()) break;
    out.push_back(o[0].result.emitted.front());
  }
  return out;
}

void ExpectSameSteps(const std::vector<sampling::StepResult>& a,
                     const std::vector<sampling::StepResult>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].token, b[i].token) << "step " << i;
    EXPECT_EQ(a[i].logprob, b[i].logprob) << "step " << i;  // Bitwise.
  }
}

TEST(TargetStepTest, ChunkedPrefillEqualsOneShotOpen) {
  auto eager_model = TinyTarget();
  auto chunked_model = TinyTarget();
  TargetEngine eager(*eager_model, 0), chunked(*chunked_model, 0);
  const std::vector<int64_t> prompt = Prompt(40, 1);
  SessionId a = *eager.Open(prompt, GreedyOptions());
  SessionId b = *chunked.Register(prompt, GreedyOptions());
  EXPECT_EQ(chunked_model->Length(b), 0);  // Registering runs nothing.
  std::vector<int64_t> remaining;
  for (int i = 0; i < 5; ++i) {
    std::vector<PrefillOutcome> o = chunked.Prefill({PrefillItem{b, 16}});
    ASSERT_TRUE(o[0].status.ok()) << o[0].status;
    remaining.push_back(o[0].remaining);
    if (o[0].remaining == 0) break;
  }
  // 39 positions (the last prompt token stays pending): 16 + 16 + 7.
  EXPECT_EQ(remaining, (std::vector<int64_t>{23, 7, 0}));
  EXPECT_EQ(chunked_model->Length(b), 39);
  ExpectSameSteps(Decode(eager, a, 40, 6), Decode(chunked, b, 40, 6));
}

TEST(TargetStepTest, UnprefilledSessionCatchesUpInItsFirstVerify) {
  auto eager_model = TinyTarget();
  auto lazy_model = TinyTarget();
  TargetEngine eager(*eager_model, 0), lazy(*lazy_model, 0);
  const std::vector<int64_t> prompt = Prompt(21, 5);
  SessionId a = *eager.Open(prompt, GreedyOptions());
  SessionId b = *lazy.Register(prompt, GreedyOptions());
  ExpectSameSteps(Decode(eager, a, 21, 4), Decode(lazy, b, 21, 4));
}

TEST(TargetStepTest, PrefillChunksAndScoresRideInTheSameForwardAsVerifyRows) {
  auto inner = TinyTarget();
  CountingModel model(*inner);
  TargetEngine engine(model, 0);
  SessionId running = *engine.Open(Prompt(10, 2), GreedyOptions());
  SessionId opening = *engine.Register(Prompt(30, 3), GreedyOptions());
  SessionId beam = *engine.Open(Prompt(6, 4), GreedyOptions());
  model.calls.clear();
  std::vector<StepOutcome> out = engine.Step({StepItem(VerifyItem{running, {10, {}}, {}}),
                                              StepItem(PrefillItem{opening, 8}),
                                              StepItem(ScoreItem{beam, {6, {}}, 3})});
  ASSERT_EQ(model.calls.size(), 1u);  // One forward for all three.
  EXPECT_EQ(model.calls[0].requests, 3);
  EXPECT_EQ(model.calls[0].rows, 1 + 8 + 1);
  EXPECT_TRUE(std::get<VerifyOutcome>(out[0]).status.ok());
  EXPECT_EQ(std::get<PrefillOutcome>(out[1]).remaining, 29 - 8);
  const ScoreOutcome& scored = std::get<ScoreOutcome>(out[2]);
  ASSERT_TRUE(scored.status.ok()) << scored.status;
  ASSERT_EQ(scored.candidates.size(), 3u);
  // The same scores as a step of its own, on a fresh engine.
  auto alone_model = TinyTarget();
  TargetEngine alone(*alone_model, 0);
  SessionId same = *alone.Open(Prompt(6, 4), GreedyOptions());
  std::vector<ScoreOutcome> expected = alone.Score({ScoreItem{same, {6, {}}, 3}});
  ASSERT_TRUE(expected[0].status.ok());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(scored.candidates[i].token, expected[0].candidates[i].token);
    EXPECT_EQ(scored.candidates[i].logprob, expected[0].candidates[i].logprob);  // Bitwise.
  }
}

// Speculative beam search's tree score: every node's candidates are those a
// plain Score of the sequence ending at that node gets (each position
// processed with its own history: a repetition penalty sees the path), and
// the session keeps only its synced tokens.
TEST(TargetStepTest, ATreeScoreEqualsPlainScoresOfEveryPath) {
  model::ModelConfig c = model::testing::TinyLlamaConfig();
  c.max_position_embeddings = 128;
  auto m = *model::TransformerModel::Create(model::testing::RandomCheckpoint(c, 3), {});
  TargetEngine engine(*m, 0);
  SessionOptions options = GreedyOptions();
  options.params.repetition_penalty = 1.5;
  const std::vector<int64_t> prompt = Prompt(9, 6);
  const SessionId id = *engine.Open(prompt, options);
  ScoreItem item{id, {9, {}}, 5};
  item.tree.tokens = {7, 7, 30, 12, 7};
  item.tree.parents = {-1, 0, 0, -1, 1};
  std::vector<ScoreOutcome> out = engine.Score({item});
  ASSERT_TRUE(out[0].status.ok()) << out[0].status;
  ASSERT_EQ(out[0].node_candidates.size(), 5u);
  const std::vector<std::vector<int64_t>> paths = {{7}, {7, 7}, {7, 30}, {12}, {7, 7, 7}};
  for (size_t i = 0; i < paths.size(); ++i) {
    const SessionId plain = *engine.Open(prompt, options);
    std::vector<ScoreOutcome> want = engine.Score({ScoreItem{plain, {9, paths[i]}, 5}});
    ASSERT_TRUE(want[0].status.ok());
    ASSERT_EQ(out[0].node_candidates[i].size(), want[0].candidates.size()) << i;
    for (size_t k = 0; k < want[0].candidates.size(); ++k) {
      EXPECT_EQ(out[0].node_candidates[i][k].token, want[0].candidates[k].token) << i;
      EXPECT_NEAR(out[0].node_candidates[i][k].logprob, want[0].candidates[k].logprob, 1e-5) << i;
    }
    ASSERT_TRUE(engine.Close(plain).ok());
  }
  // The root's candidates are a plain score's; nothing of the tree stayed.
  EXPECT_EQ(m->Length(id), 9);
  const SessionId fresh = *engine.Open(prompt, options);
  std::vector<ScoreOutcome> root = engine.Score({ScoreItem{fresh, {9, {}}, 5}});
  for (size_t k = 0; k < root[0].candidates.size(); ++k) {
    EXPECT_EQ(out[0].candidates[k].token, root[0].candidates[k].token);
  }
  ExpectSameSteps(Decode(engine, id, 9, 3), Decode(engine, fresh, 9, 3));
  // A chain needs no parents; a bad tree fails alone.
  ScoreItem chain{id, {9, {}}, 2};
  chain.tree.tokens = {7, 7};
  ScoreItem bad = chain;
  bad.session = fresh;
  bad.tree.parents = {-1, 1};
  out = engine.Score({chain, bad});
  ASSERT_TRUE(out[0].status.ok()) << out[0].status;
  EXPECT_EQ(out[0].node_candidates.size(), 2u);
  EXPECT_EQ(out[1].status.code(), absl::StatusCode::kInvalidArgument);
  ScoreItem big{fresh, {9, {}}, 2};
  big.tree.tokens.assign(kMaxTreeNodes + 1, 3);
  EXPECT_EQ(engine.Score({big})[0].status.code(), absl::StatusCode::kInvalidArgument);
}

// The load signal: a verify item's marginal cost is measured against the
// other rows of its step. The model sleeps 4 ms + 0.25 ms per row, so alone
// one row costs the whole step (>= 4 ms), while beside a 40-row prefill
// chunk it costs about one row (0.25 ms; generous bounds for a shared CI
// machine).
TEST(TargetStepTest, VerifyOutcomesCarryTheirMarginalCostAgainstTheStepsOtherRows) {
  auto inner = TinyTarget();
  CountingModel model(*inner);
  model.base = absl::Milliseconds(4);
  model.per_row = absl::Microseconds(250);
  TargetEngine engine(model, 0);
  SessionId running = *engine.Open(Prompt(10, 2), GreedyOptions());
  int64_t length = 10;
  // Alone: a few plain steps teach the engine T(1).
  std::vector<float> alone;
  for (int i = 0; i < 3; ++i) {
    std::vector<VerifyOutcome> o = engine.Verify({VerifyItem{running, {length, {}}, {}}});
    ASSERT_TRUE(o[0].status.ok()) << o[0].status;
    alone = o[0].marginal_seconds;
    // Busy or not, no other session fills the engine's time.
    EXPECT_EQ(o[0].others_busy, 0.0f);
    ++length;
  }
  ASSERT_EQ(alone.size(), static_cast<size_t>(kMarginalRows));
  EXPECT_GE(alone[0], 4e-3);
  // Another session stepping in turn, never in the same step: the engine's
  // time is now half others', and the signal says so.
  {
    SessionId turn = *engine.Open(Prompt(10, 3), GreedyOptions());
    int64_t turn_length = 10;
    float seen = 0;
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(engine.Verify({VerifyItem{turn, {turn_length++, {}}, {}}})[0].status.ok());
      std::vector<VerifyOutcome> o = engine.Verify({VerifyItem{running, {length++, {}}, {}}});
      ASSERT_TRUE(o[0].status.ok()) << o[0].status;
      seen = o[0].others_busy;
    }
    EXPECT_GT(seen, 0.2f) << "sequential steps of another session count";
    ASSERT_TRUE(engine.Close(turn).ok());
  }
  for (size_t j = 1; j < alone.size(); ++j) EXPECT_GE(alone[j], alone[j - 1]);
  // Beside prefill chunks of 40 rows (twice, with one and with two decode
  // rows, so the engine has seen both sides of the verify's rows).
  std::vector<float> shared;
  for (int chunk : {40, 40, 40}) {
    SessionId opening = *engine.Register(Prompt(64, chunk + length), GreedyOptions());
    std::vector<StepOutcome> out = engine.Step(
        {StepItem(VerifyItem{running, {length, {}}, {}}), StepItem(PrefillItem{opening, chunk})});
    const VerifyOutcome& v = std::get<VerifyOutcome>(out[0]);
    ASSERT_TRUE(v.status.ok()) << v.status;
    shared = v.marginal_seconds;
    // 40 of the step's 41 rows were another session's: most of the busy
    // time is others' (the engine has idled little between these steps).
    EXPECT_GT(v.others_busy, 0.3f);
    EXPECT_LE(v.others_busy, 1.0f);
    ++length;
    ASSERT_TRUE(engine.Close(opening).ok());
  }
  ASSERT_EQ(shared.size(), static_cast<size_t>(kMarginalRows));
  EXPECT_LT(shared[0], 0.5 * alone[0]) << "a row beside 40 others is not a whole step";
  EXPECT_GT(shared[4], 2.0 * shared[0]) << "beside a full step, rows cost about linearly";
}

TEST(TargetStepTest, BadItemsFailAloneAndChangeNothing) {
  auto model = TinyTarget();
  TargetEngine engine(*model, 0);
  SessionId id = *engine.Register(Prompt(12, 4), GreedyOptions());
  SessionId other = *engine.Register(Prompt(12, 5), GreedyOptions());
  std::vector<StepOutcome> out = engine.Step({StepItem(PrefillItem{id, 4}),
                                              StepItem(VerifyItem{id, {12, {}}, {}}),
                                              StepItem(PrefillItem{999, 4}),
                                              StepItem(PrefillItem{other, 0})});
  EXPECT_TRUE(std::get<PrefillOutcome>(out[0]).status.ok());
  EXPECT_EQ(std::get<VerifyOutcome>(out[1]).status.code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::get<PrefillOutcome>(out[2]).status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::get<PrefillOutcome>(out[3]).status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model->Length(id), 4);
  EXPECT_EQ(model->Length(other), 0);
}

}  // namespace
}  // namespace tandem::decoding
