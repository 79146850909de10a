// The transport-free decoding loop with in-process engines: greedy outputs are
// token-identical to target-only greedy in every speculation mode (with
// rejections exercised), sampled outputs follow the target's distribution
// (chi-square), sessions are released, and concurrency changes nothing.

#include "decoding/generator.h"

#include <cmath>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "decoding/engines.h"
#include "decoding/local_backends.h"
#include "decoding/ngram_drafter.h"
#include "model/testing/fake_model.h"
#include "model/transformer_model.h"
#include "tests/decoding/local_pair.h"
#include "tests/model/random_checkpoint.h"
#include "tests/testing/statistics.h"

namespace tandem::decoding {
namespace {

using ::testing::ElementsAre;

std::vector<int64_t> Ids(const GenerationResult& r) {
  std::vector<int64_t> out;
  for (const auto& s : r.tokens) out.push_back(s.token);
  return out;
}

using Pair = testing::LocalPair;

GenerateRequest Greedy(std::vector<int64_t> prompt, SpeculationMode mode,
                       int gamma = 3, bool adaptive = false) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.session.params.temperature = 0;
  r.stop.max_new_tokens = 40;
  r.speculation.mode = mode;
  r.speculation.draft_length = gamma;
  r.speculation.adaptive = adaptive;
  return r;
}

struct ModeCase {
  const char* name;
  SpeculationMode mode;
  int gamma;
  bool adaptive;
};

class GreedyEquivalenceTest : public ::testing::TestWithParam<ModeCase> {};

TEST_P(GreedyEquivalenceTest, TokenIdenticalToTargetOnly) {
  Pair pair;
  const std::vector<std::vector<int64_t>> prompts = {
      {1, 2, 3}, {5, 9, 5, 9, 5}, {42}, {10, 20, 30, 40, 50, 60, 70}};
  int64_t rejections = 0, accepted = 0;
  for (const auto& prompt : prompts) {
    auto expected = Generate(Greedy(prompt, SpeculationMode::kOff), pair.target(), nullptr, {});
    ASSERT_TRUE(expected.ok()) << expected.status();
    ASSERT_EQ(expected->tokens.size(), 40u);
    GenerateRequest r = Greedy(prompt, GetParam().mode, GetParam().gamma, GetParam().adaptive);
    auto got = Generate(r, pair.target(), &pair.draft(), {});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(Ids(*got), Ids(*expected)) << "prompt size " << prompt.size();
    rejections += got->stats.drafted - got->stats.accepted;
    accepted += got->stats.accepted;
    EXPECT_LE(got->stats.rounds, expected->stats.rounds);
  }
  if (GetParam().mode != SpeculationMode::kOff) {
    EXPECT_GT(accepted, 0) << "no draft was ever accepted";
    EXPECT_GT(rejections, 0) << "rollbacks were not exercised";
  }
  EXPECT_EQ(pair.target_engine().num_sessions(), 0);
  EXPECT_EQ(pair.target_model().num_sequences(), 0);
  EXPECT_EQ(pair.draft_model().num_sequences(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, GreedyEquivalenceTest,
    ::testing::Values(ModeCase{"off", SpeculationMode::kOff, 0, false},
                      ModeCase{"draft_gamma3", SpeculationMode::kDraftModel, 3, false},
                      ModeCase{"draft_gamma1", SpeculationMode::kDraftModel, 1, false},
                      ModeCase{"draft_adaptive", SpeculationMode::kDraftModel, 4, true},
                      ModeCase{"self_gamma3", SpeculationMode::kSelfSpeculative, 3, false},
                      ModeCase{"self_adaptive", SpeculationMode::kSelfSpeculative, 2, true},
                      ModeCase{"ngram_gamma4", SpeculationMode::kNgram, 4, false}),
    [](const auto& info) { return info.param.name; });

TEST(GeneratorConcurrencyTest, ConcurrentStreamsEqualSequentialRuns) {
  Pair pair;
  constexpr int kStreams = 16;
  std::vector<GenerateRequest> requests;
  for (int i = 0; i < kStreams; ++i) {
    GenerateRequest r = Greedy({int64_t(i + 1), int64_t(2 * i + 3), 7},
                               i % 3 == 0   ? SpeculationMode::kDraftModel
                               : i % 3 == 1 ? SpeculationMode::kSelfSpeculative
                                            : SpeculationMode::kOff);
    r.stop.max_new_tokens = 24;
    if (i % 2 == 0) {  // half of them sample, seeded
      r.session.params.temperature = 0.9;
      r.session.seed = 1000 + i;
    }
    requests.push_back(r);
  }
  std::vector<std::vector<int64_t>> sequential(kStreams), concurrent(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    auto r = Generate(requests[i], pair.target(), &pair.draft(), {});
    ASSERT_TRUE(r.ok()) << r.status();
    sequential[i] = Ids(*r);
  }
  const int64_t batches_before = pair.target().verify_batches();
  const int64_t items_before = pair.target().verify_items();
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      auto r = Generate(requests[i], pair.target(), &pair.draft(), {});
      if (r.ok()) concurrent[i] = Ids(*r);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kStreams; ++i) EXPECT_EQ(concurrent[i], sequential[i]) << "stream " << i;
  const int64_t batches = pair.target().verify_batches() - batches_before;
  const int64_t items = pair.target().verify_items() - items_before;
  EXPECT_LT(batches, items) << "concurrent verify calls were never batched together";
  EXPECT_EQ(pair.target_model().num_sequences(), 0);
}

TEST(GeneratorTest, SameSeedSameOutputDifferentSeedDiffers) {
  Pair pair;
  GenerateRequest r = Greedy({3, 4, 5}, SpeculationMode::kDraftModel);
  r.session.params.temperature = 1.0;
  r.session.seed = 99;
  auto a = Generate(r, pair.target(), &pair.draft(), {});
  auto b = Generate(r, pair.target(), &pair.draft(), {});
  r.session.seed = 100;
  auto c = Generate(r, pair.target(), &pair.draft(), {});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(Ids(*a), Ids(*b));
  EXPECT_NE(Ids(*a), Ids(*c));
}

TEST(GeneratorTest, StopsAtEosBudgetAndCallbackAndReleasesSessions) {
  Pair pair;
  auto full = Generate(Greedy({1, 2, 3}, SpeculationMode::kOff), pair.target(), nullptr, {});
  ASSERT_TRUE(full.ok());
  // EOS: declare the 5th generated token an EOS id.
  GenerateRequest r = Greedy({1, 2, 3}, SpeculationMode::kDraftModel);
  const int64_t eos = full->tokens[4].token;
  r.stop.eos_token_ids = {eos};
  auto stopped = Generate(r, pair.target(), &pair.draft(), {});
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->finish, FinishReason::kEos);
  EXPECT_EQ(stopped->tokens.back().token, eos);
  EXPECT_LE(stopped->tokens.size(), 5u);
  // Budget.
  r = Greedy({1, 2, 3}, SpeculationMode::kSelfSpeculative, 4);
  r.stop.max_new_tokens = 7;
  auto budget = Generate(r, pair.target(), nullptr, {});
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(budget->tokens.size(), 7u);
  EXPECT_EQ(budget->finish, FinishReason::kLength);
  // Cancellation from the callback after the first round.
  auto cancelled = Generate(Greedy({1, 2, 3}, SpeculationMode::kDraftModel), pair.target(),
                            &pair.draft(),
                            [](absl::Span<const sampling::StepResult>) {
                              return std::optional<FinishReason>(FinishReason::kCancelled);
                            });
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->finish, FinishReason::kCancelled);
  EXPECT_EQ(pair.target_model().num_sequences(), 0);
  EXPECT_EQ(pair.draft_model().num_sequences(), 0);
}

class FailingDraft : public DraftBackend {
 public:
  explicit FailingDraft(DraftBackend& real) : real_(real) {}
  model::ModelInfo Info() override { return real_.Info(); }
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& p, const SessionOptions& o) override {
    return real_.Open(p, o);
  }
  absl::StatusOr<TimedDraft> Propose(const ProposeItem& item) override {
    if (++calls_ > 2) return absl::UnavailableError("draft service down");
    return real_.Propose(item);
  }
  void Close(SessionId id) override { real_.Close(id); }

 private:
  DraftBackend& real_;
  int calls_ = 0;
};

TEST(GeneratorTest, DraftFailureFinishesTargetOnlyWithSameGreedyOutput) {
  Pair pair;
  auto expected = Generate(Greedy({4, 8, 15}, SpeculationMode::kOff), pair.target(), nullptr, {});
  FailingDraft failing(pair.draft());
  auto got = Generate(Greedy({4, 8, 15}, SpeculationMode::kDraftModel), pair.target(), &failing, {});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->stats.fell_back_to_target_only);
  EXPECT_EQ(Ids(*got), Ids(*expected));
  EXPECT_EQ(pair.draft_model().num_sequences(), 0);
}

// After rounds with rejections, the target's KV cache equals a from-scratch
// forward of the committed tokens (checked through the next token's logits).
TEST(TargetEngineTest, CacheAfterAcceptRejectEqualsFromScratch) {
  Pair pair;
  TargetEngine& engine = pair.target_engine();
  SessionOptions options;
  options.params.temperature = 0.8;
  options.seed = 5;
  auto id = engine.Open({1, 2, 3, 4}, options);
  ASSERT_TRUE(id.ok());
  std::vector<int64_t> committed = {1, 2, 3, 4};
  std::mt19937_64 gen(3);
  int64_t known = 4;
  for (int round = 0; round < 12; ++round) {
    Draft d;
    for (int i = 0; i < 3; ++i) {
      d.tokens.push_back(gen() % 97);
      d.dists.push_back(sampling::DraftDistribution::None());
    }
    VerifyItem item{*id, {known, {committed.begin() + known, committed.end()}}, d};
    auto out = engine.Verify({item});
    ASSERT_TRUE(out[0].status.ok()) << out[0].status;
    for (const auto& s : out[0].result.emitted) committed.push_back(s.token);
    known = committed.size();
  }
  // The session's sequence holds committed[0, n-1); run the pending token.
  auto& model = pair.target_model();
  auto cached = model.ForwardOne(*id, {committed.back()});
  ASSERT_TRUE(cached.ok());
  auto fresh = model.ForwardOne(999, committed);
  ASSERT_TRUE(fresh.ok());
  EXPECT_LT(((*cached)[0] - (*fresh)[committed.size() - 1]).abs().max().item<double>(), 1e-4);
  model.Release(999);
}

TEST(DraftEngineTest, ForkProposesLikeItsSourceAndIsIndependent) {
  Pair pair;
  model::ModelConfig c = model::testing::TinyLlamaConfig();
  auto draft_model = *model::TransformerModel::Create(model::testing::RandomCheckpoint(c, 3), {});
  DraftEngine engine(*draft_model, 0);
  SessionOptions greedy;
  greedy.params.temperature = 0;
  auto source = engine.Open({4, 9, 2}, greedy);
  ASSERT_TRUE(source.ok());
  // Commit two generated tokens to the source, then fork after the first.
  ASSERT_TRUE(engine.Propose({ProposeItem{*source, {3, {7, 1}}, 2}})[0].status.ok());
  auto fork = engine.Fork(*source, 4);  // {4, 9, 2, 7}
  ASSERT_TRUE(fork.ok()) << fork.status();
  auto fresh = engine.Open({4, 9, 2}, greedy);
  ASSERT_TRUE(fresh.ok());
  auto out = engine.Propose({ProposeItem{*fork, {4, {}}, 4}, ProposeItem{*fresh, {3, {7}}, 4},
                             ProposeItem{*source, {5, {}}, 4}});
  ASSERT_TRUE(out[0].status.ok() && out[1].status.ok() && out[2].status.ok());
  EXPECT_EQ(out[0].draft.tokens, out[1].draft.tokens);
  EXPECT_EQ(engine.Fork(*source, 2).status().code(), absl::StatusCode::kInvalidArgument)
      << "a fork cannot cut into the prompt";
  EXPECT_EQ(engine.Fork(999, 3).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(engine.Close(*fork).ok());
  ASSERT_TRUE(engine.Close(*fresh).ok());
  ASSERT_TRUE(engine.Close(*source).ok());
  EXPECT_EQ(draft_model->num_sequences(), 0);
}

TEST(NgramDraftTest, ProposesWhatFollowedTheLatestMatch) {
  EXPECT_THAT(NgramDraft({1, 2, 3, 4, 1, 2}, 2, 3, 1), ElementsAre(3, 4));
  EXPECT_THAT(NgramDraft({7, 1, 2, 9, 1, 2, 5, 1, 2}, 1, 2, 1), ElementsAre(5));
  EXPECT_TRUE(NgramDraft({1, 2, 3}, 4, 3, 1).empty());
  EXPECT_THAT(NgramDraft({5, 6, 5}, 4, 3, 1), ElementsAre(6, 5));
}

// Sampling: the first two generated tokens are distributed as the target's
// own sampling, in every mode, on a Markov fake with 6 tokens (chi-square at
// 0.001 over 36 joint outcomes, 20k requests per mode).
std::vector<float> MarkovRow(int64_t last, int64_t exit_layer, bool draft) {
  std::vector<float> row(6);
  for (int v = 0; v < 6; ++v) {
    const double base = std::sin(1.7 * (last + 1) * (v + 1)) * 1.5;
    const double noise = (draft || exit_layer > 0) ? std::cos(2.3 * v + last) : 0.0;
    row[v] = static_cast<float>(base + noise);
  }
  return row;
}

double Softmax(const std::vector<float>& row, int v) {
  double z = 0;
  for (float x : row) z += std::exp(x);
  return std::exp(row[v]) / z;
}

class SamplingEquivalenceTest : public ::testing::TestWithParam<SpeculationMode> {};

TEST_P(SamplingEquivalenceTest, FirstTwoTokensFollowTheTarget) {
  auto target_fn = [](const std::vector<int64_t>& p, int64_t exit) {
    return MarkovRow(p.back(), exit, false);
  };
  auto draft_fn = [](const std::vector<int64_t>& p, int64_t exit) {
    return MarkovRow(p.back(), exit, true);
  };
  model::testing::FakeModel target_model(6, 4, 64, target_fn);
  model::testing::FakeModel draft_model(6, 2, 64, draft_fn);
  TargetEngine target_engine(target_model, 0);
  DraftEngine draft_engine(draft_model, 0);
  LocalTargetBackend target(target_engine);
  LocalDraftBackend draft(draft_engine);
  std::vector<int64_t> counts(36);
  constexpr int kRuns = 20000;
  for (int i = 0; i < kRuns; ++i) {
    GenerateRequest r;
    r.prompt = {0, 3, 0, 3, 2};  // n-gram lookup proposes "0 3" or "3 ..."
    r.session.params.temperature = 1.0;
    r.session.seed = i;
    r.stop.max_new_tokens = 2;
    r.speculation.mode = GetParam();
    r.speculation.draft_length = 3;
    r.speculation.exit_layer = 1;
    auto out = Generate(r, target, &draft, {});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->tokens.size(), 2u);
    ++counts[out->tokens[0].token * 6 + out->tokens[1].token];
  }
  std::vector<double> expected(36);
  const std::vector<float> first = MarkovRow(2, 0, false);
  for (int a = 0; a < 6; ++a) {
    const std::vector<float> second = MarkovRow(a, 0, false);
    for (int b = 0; b < 6; ++b) expected[a * 6 + b] = Softmax(first, a) * Softmax(second, b);
  }
  auto fit = tandem::testing::ChiSquareTest(counts, expected);
  EXPECT_GT(fit.p_value, 1e-3) << fit.ToString();
  EXPECT_EQ(target_model.num_sequences(), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, SamplingEquivalenceTest,
                         ::testing::Values(SpeculationMode::kOff, SpeculationMode::kDraftModel,
                                           SpeculationMode::kSelfSpeculative,
                                           SpeculationMode::kNgram));

}  // namespace
}  // namespace tandem::decoding
