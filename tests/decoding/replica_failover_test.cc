// Replica failover: a replica that dies (UNAVAILABLE) or forgets its
// sessions (NOT_FOUND, as after a restart or TTL expiry) mid-request is
// replaced by re-prefilling on another replica, and greedy output stays
// token-identical to an uninterrupted run, for plain, draft-model,
// self-speculative decoding and beam search. No session leaks anywhere.

#include "decoding/replica_failover.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "decoding/backend_beam_search.h"
#include "decoding/engines.h"
#include "decoding/generator.h"
#include "decoding/local_backends.h"
#include "model/transformer_model.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::decoding {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int64_t> Ids(const GenerationResult& r) {
  std::vector<int64_t> out;
  for (const auto& s : r.tokens) out.push_back(s.token);
  return out;
}

// How a replica misbehaves once it has answered `healthy_calls` calls.
enum class Fault { kNone, kDies, kForgetsSessions };

// Forwards to a local backend until its fault strikes.
template <typename Base>
class Faulty;

template <>
class Faulty<TargetBackend> : public TargetBackend {
 public:
  Faulty(TargetEngine& engine, Fault fault, int healthy_calls)
      : engine_(engine), local_(engine), fault_(fault), healthy_calls_(healthy_calls) {}

  model::ModelInfo Info() override { return local_.Info(); }
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override {
    if (dead()) return absl::UnavailableError("replica down");
    auto id = local_.Open(prompt, options);
    std::lock_guard<std::mutex> lock(mu_);
    if (id.ok()) opened_.push_back(*id);
    return id;
  }
  absl::StatusOr<TimedVerify> Verify(const VerifyItem& item) override {
    if (absl::Status s = Strike(); !s.ok()) return s;
    return local_.Verify(item);
  }
  absl::StatusOr<TimedDraft> DraftEarlyExit(const EarlyExitItem& item) override {
    if (absl::Status s = Strike(); !s.ok()) return s;
    return local_.DraftEarlyExit(item);
  }
  absl::StatusOr<decoding::Scores> Score(const ScoreItem& item) override {
    if (absl::Status s = Strike(); !s.ok()) return s;
    return local_.Score(item);
  }
  absl::StatusOr<SessionId> Fork(SessionId session, int64_t length) override {
    if (absl::Status s = Strike(); !s.ok()) return s;
    auto id = local_.Fork(session, length);
    std::lock_guard<std::mutex> lock(mu_);
    if (id.ok()) opened_.push_back(*id);
    return id;
  }
  void Close(SessionId session) override {
    if (!dead()) local_.Close(session);
  }
  int calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  bool struck() const {
    std::lock_guard<std::mutex> lock(mu_);
    return struck_;
  }

 private:
  bool dead() const {
    std::lock_guard<std::mutex> lock(mu_);
    return dead_;
  }
  // Thread-safe (callers may score several sessions at once); sessions are
  // dropped through the backend, which takes the engine's mutex.
  absl::Status Strike() {
    std::lock_guard<std::mutex> lock(mu_);
    if (dead_) return absl::UnavailableError("replica down");
    if (fault_ == Fault::kNone || calls_++ < healthy_calls_ || struck_) return absl::OkStatus();
    struck_ = true;
    for (SessionId id : opened_) local_.Close(id);  // Its memory is gone.
    if (fault_ == Fault::kDies) {
      dead_ = true;
      return absl::UnavailableError("replica down");
    }
    return absl::OkStatus();  // The call itself then finds no session.
  }

  mutable std::mutex mu_;
  TargetEngine& engine_;
  LocalTargetBackend local_;
  Fault fault_;
  int healthy_calls_;
  int calls_ = 0;
  bool dead_ = false;
  bool struck_ = false;
  std::vector<SessionId> opened_;
};

template <>
class Faulty<DraftBackend> : public DraftBackend {
 public:
  Faulty(DraftEngine& engine, Fault fault, int healthy_calls)
      : engine_(engine), local_(engine), fault_(fault), healthy_calls_(healthy_calls) {}

  model::ModelInfo Info() override { return local_.Info(); }
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override {
    if (dead()) return absl::UnavailableError("replica down");
    auto id = local_.Open(prompt, options);
    std::lock_guard<std::mutex> lock(mu_);
    if (id.ok()) opened_.push_back(*id);
    return id;
  }
  absl::StatusOr<TimedDraft> Propose(const ProposeItem& item) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (dead_) return absl::UnavailableError("replica down");
      if (fault_ != Fault::kNone && calls_++ >= healthy_calls_ && !struck_) {
        struck_ = true;
        for (SessionId id : opened_) local_.Close(id);
        if (fault_ == Fault::kDies) {
          dead_ = true;
          return absl::UnavailableError("replica down");
        }
      }
    }
    return local_.Propose(item);
  }
  void Close(SessionId session) override {
    if (!dead()) local_.Close(session);
  }
  bool struck() const {
    std::lock_guard<std::mutex> lock(mu_);
    return struck_;
  }

 private:
  bool dead() const {
    std::lock_guard<std::mutex> lock(mu_);
    return dead_;
  }

  mutable std::mutex mu_;
  DraftEngine& engine_;
  LocalDraftBackend local_;
  Fault fault_;
  int healthy_calls_;
  int calls_ = 0;
  bool dead_ = false;
  bool struck_ = false;
  std::vector<SessionId> opened_;
};

// A replica that is full: refuses opens with RESOURCE_EXHAUSTED (as a server
// at --max_sessions does) when `refuse_opens`, and refuses the Verify calls
// whose index (0 = its first) is in `refused_verifies` the same way (as a
// full batch queue does).
class Crowded : public TargetBackend {
 public:
  Crowded(TargetEngine& engine, bool refuse_opens, std::set<int> refused_verifies = {})
      : local_(engine),
        refuse_opens_(refuse_opens),
        refused_verifies_(std::move(refused_verifies)) {}

  model::ModelInfo Info() override { return local_.Info(); }
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override {
    if (refuse_opens_) return absl::ResourceExhaustedError(kFull);
    return local_.Open(prompt, options);
  }
  absl::StatusOr<TimedVerify> Verify(const VerifyItem& item) override {
    if (refused_verifies_.count(verifies_++) > 0) return absl::ResourceExhaustedError("queue full");
    return local_.Verify(item);
  }
  absl::StatusOr<TimedDraft> DraftEarlyExit(const EarlyExitItem& item) override {
    return local_.DraftEarlyExit(item);
  }
  absl::StatusOr<decoding::Scores> Score(const ScoreItem& item) override {
    return local_.Score(item);
  }
  absl::StatusOr<SessionId> Fork(SessionId session, int64_t length) override {
    return local_.Fork(session, length);
  }
  void Close(SessionId session) override { local_.Close(session); }

  static constexpr char kFull[] = "all 1 sessions are in use; retry later";

 private:
  LocalTargetBackend local_;
  bool refuse_opens_;
  std::set<int> refused_verifies_;
  int verifies_ = 0;
};

// Two replicas of a tiny random target (same weights) and two of a draft
// made of its first two layers.
class Replicas : public ::testing::Test {
 protected:
  void SetUp() override {
    model::ModelConfig c = model::testing::TinyLlamaConfig();
    c.max_position_embeddings = 128;
    model::Checkpoint ck = model::testing::RandomCheckpoint(c, 7);
    for (int i = 0; i < 2; ++i) {
      targets_.push_back(*model::TransformerModel::Create(ck, {}));
      drafts_.push_back(*model::TransformerModel::Create(model::testing::FirstLayers(ck, 2), {}));
      target_engines_.push_back(std::make_unique<TargetEngine>(*targets_.back(), 0));
      draft_engines_.push_back(std::make_unique<DraftEngine>(*drafts_.back(), 0));
    }
  }

  GenerateRequest Greedy(SpeculationMode mode) {
    GenerateRequest r;
    r.prompt = {1, 5, 9, 2, 7, 7, 3};
    r.session.params.temperature = 0;
    r.stop.max_new_tokens = 48;
    r.speculation.mode = mode;
    r.speculation.draft_length = 3;
    return r;
  }

  std::vector<int64_t> Reference(SpeculationMode mode) {
    LocalTargetBackend target(*target_engines_[0]);
    LocalDraftBackend draft(*draft_engines_[0]);
    auto r = Generate(Greedy(mode), target, &draft, nullptr);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? Ids(*r) : std::vector<int64_t>{};
  }

  void ExpectNoSessions() {
    for (auto& e : target_engines_) EXPECT_EQ(e->num_sessions(), 0);
    for (auto& e : draft_engines_) EXPECT_EQ(e->num_sessions(), 0);
  }

  std::vector<std::unique_ptr<model::TransformerModel>> targets_, drafts_;
  std::vector<std::unique_ptr<TargetEngine>> target_engines_;
  std::vector<std::unique_ptr<DraftEngine>> draft_engines_;
};

struct FaultCase {
  const char* name;
  SpeculationMode mode;
  Fault fault;
  int healthy_calls;
};

class TargetFailoverTest : public Replicas,
                           public ::testing::WithParamInterface<FaultCase> {};

TEST_P(TargetFailoverTest, GreedyOutputIsIdentical) {
  const FaultCase& c = GetParam();
  const std::vector<int64_t> expected = Reference(c.mode);
  ASSERT_EQ(expected.size(), 48u);
  Faulty<TargetBackend> a(*target_engines_[0], c.fault, c.healthy_calls);
  Faulty<TargetBackend> b(*target_engines_[1], Fault::kNone, 0);
  std::vector<std::pair<size_t, size_t>> moves;
  FailoverTargetBackend target({&a, &b}, 0, [&](size_t from, size_t to, int64_t tokens) {
    moves.push_back({from, to});
    // Everything generated before the fault is re-prefilled.
    if (c.healthy_calls > 0) {
      EXPECT_GT(tokens, 0);
    }
  });
  LocalDraftBackend draft(*draft_engines_[0]);
  auto r = Generate(Greedy(c.mode), target, &draft, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(a.struck());
  EXPECT_EQ(Ids(*r), expected);
  EXPECT_EQ(target.failovers(), 1);
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].first, 0u);
  // A replica that only forgot its sessions is alive and next in line
  // after the other one; a dead one is skipped.
  EXPECT_EQ(moves[0].second, 1u);
  EXPECT_FALSE(r->stats.fell_back_to_target_only);
  ExpectNoSessions();
}

INSTANTIATE_TEST_SUITE_P(
    Faults, TargetFailoverTest,
    ::testing::Values(FaultCase{"OffDies", SpeculationMode::kOff, Fault::kDies, 5},
                      FaultCase{"OffForgets", SpeculationMode::kOff, Fault::kForgetsSessions, 9},
                      FaultCase{"DraftDiesFirstCall", SpeculationMode::kDraftModel,
                                Fault::kDies, 0},
                      FaultCase{"DraftDies", SpeculationMode::kDraftModel, Fault::kDies, 4},
                      FaultCase{"DraftForgets", SpeculationMode::kDraftModel,
                                Fault::kForgetsSessions, 6},
                      FaultCase{"SelfDies", SpeculationMode::kSelfSpeculative, Fault::kDies, 7},
                      FaultCase{"SelfForgets", SpeculationMode::kSelfSpeculative,
                                Fault::kForgetsSessions, 4},
                      FaultCase{"NgramDies", SpeculationMode::kNgram, Fault::kDies, 3}),
    [](const ::testing::TestParamInfo<FaultCase>& info) { return info.param.name; });

TEST_F(Replicas, RestartedSingleReplicaIsReprefilledInPlace) {
  const std::vector<int64_t> expected = Reference(SpeculationMode::kDraftModel);
  Faulty<TargetBackend> only(*target_engines_[0], Fault::kForgetsSessions, 5);
  FailoverTargetBackend target({&only}, 0);
  LocalDraftBackend draft(*draft_engines_[0]);
  auto r = Generate(Greedy(SpeculationMode::kDraftModel), target, &draft, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Ids(*r), expected);
  EXPECT_EQ(target.failovers(), 1);
  ExpectNoSessions();
}

TEST_F(Replicas, DraftReplicaFailureMovesTheDraftSessionNotToTargetOnly) {
  const std::vector<int64_t> expected = Reference(SpeculationMode::kDraftModel);
  for (Fault fault : {Fault::kDies, Fault::kForgetsSessions}) {
    Faulty<DraftBackend> a(*draft_engines_[0], fault, 4);
    LocalDraftBackend b(*draft_engines_[1]);
    FailoverDraftBackend draft({&a, &b}, 0);
    LocalTargetBackend target(*target_engines_[0]);
    auto r = Generate(Greedy(SpeculationMode::kDraftModel), target, &draft, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(a.struck());
    EXPECT_EQ(Ids(*r), expected);
    EXPECT_EQ(draft.failovers(), 1);
    EXPECT_FALSE(r->stats.fell_back_to_target_only);
    ExpectNoSessions();
  }
}

TEST_F(Replicas, AllReplicasDownIsUnavailableAndLeaksNothing) {
  Faulty<TargetBackend> a(*target_engines_[0], Fault::kDies, 3);
  Faulty<TargetBackend> b(*target_engines_[1], Fault::kDies, 2);
  FailoverTargetBackend target({&a, &b}, 0);
  auto r = Generate(Greedy(SpeculationMode::kOff), target, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  ExpectNoSessions();
}

TEST_F(Replicas, OtherErrorsAreNotRetried) {
  Faulty<TargetBackend> a(*target_engines_[0], Fault::kNone, 0);
  LocalTargetBackend b(*target_engines_[1]);
  FailoverTargetBackend target({&a, &b}, 0);
  auto id = target.Open({1, 2, 3}, {});
  ASSERT_TRUE(id.ok());
  // A sync past the end is the caller's bug, reported by the replica.
  VerifyItem bad{*id, {7, {4}}, {}};
  auto v = target.Verify(bad);
  EXPECT_FALSE(v.ok());
  EXPECT_FALSE(IsReplicaFailure(v.status())) << v.status();
  EXPECT_EQ(target.failovers(), 0);
  EXPECT_EQ(*target.ReplicaOf(*id), 0u);
  target.Close(*id);
  ExpectNoSessions();
}

TEST_F(Replicas, OpenSkipsAReplicaThatIsDown) {
  Faulty<TargetBackend> a(*target_engines_[0], Fault::kDies, 0);
  LocalTargetBackend b(*target_engines_[1]);
  // Kill `a` with one call.
  auto probe = a.Open({1}, {});
  ASSERT_TRUE(probe.ok());
  ASSERT_FALSE(a.Verify({*probe, {1, {}}, {}}).ok());
  FailoverTargetBackend target({&a, &b}, 0);
  auto id = target.Open({1, 2, 3}, {});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*target.ReplicaOf(*id), 1u);
  target.Close(*id);
  ExpectNoSessions();
}

TEST_F(Replicas, BeamSearchSurvivesAReplicaDyingMidSearch) {
  BackendBeamSearchRequest request;
  request.prompt = {4, 8, 15, 16, 23};
  request.options.num_beams = 3;
  request.options.num_return_sequences = 3;
  request.options.max_new_tokens = 12;
  request.options.eos_token_ids = {};
  LocalTargetBackend reference_target(*target_engines_[0]);
  auto expected = RunBackendBeamSearch(request, reference_target);
  ASSERT_TRUE(expected.ok()) << expected.status();
  for (int healthy : {2, 9, 20}) {
    Faulty<TargetBackend> a(*target_engines_[0], Fault::kDies, healthy);
    LocalTargetBackend b(*target_engines_[1]);
    FailoverTargetBackend target({&a, &b}, 0);
    auto got = RunBackendBeamSearch(request, target);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(a.struck()) << healthy;
    EXPECT_GE(target.failovers(), 1);
    ASSERT_EQ(got->sequences.size(), expected->sequences.size());
    for (size_t i = 0; i < got->sequences.size(); ++i) {
      EXPECT_EQ(got->sequences[i].hypothesis.tokens, expected->sequences[i].hypothesis.tokens)
          << "healthy=" << healthy << " i=" << i;
      EXPECT_NEAR(got->sequences[i].hypothesis.score, expected->sequences[i].hypothesis.score,
                  1e-4);
    }
    ExpectNoSessions();
  }
}

// ScoreAll through failover: the beams of a pass live on one replica and go
// to it in one call, i.e. one engine step per pass.
TEST_F(Replicas, BeamSearchScoresEachPassInOneStepThroughFailover) {
  BackendBeamSearchRequest request;
  request.prompt = {4, 8, 15, 16, 23};
  request.options.num_beams = 4;
  request.options.num_return_sequences = 2;
  request.options.max_new_tokens = 10;
  LocalTargetBackend a(*target_engines_[0]);
  LocalTargetBackend b(*target_engines_[1]);
  FailoverTargetBackend target({&a, &b}, 0);
  auto got = RunBackendBeamSearch(request, target);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(a.score_batches(), got->target_passes);
  EXPECT_EQ(b.score_batches(), 0);
  EXPECT_EQ(target.failovers(), 0);
  ExpectNoSessions();
}

TEST_F(Replicas, OpenRefusedByAFullReplicaSpillsToTheNextWithIdenticalOutput) {
  const std::vector<int64_t> expected = Reference(SpeculationMode::kDraftModel);
  Crowded full(*target_engines_[0], /*refuse_opens=*/true);
  LocalTargetBackend b(*target_engines_[1]);
  std::vector<std::pair<size_t, size_t>> spills;
  FailoverTargetBackend target({&full, &b}, 0, nullptr,
                               [&](size_t from, size_t to) { spills.push_back({from, to}); });
  LocalDraftBackend draft(*draft_engines_[0]);
  auto r = Generate(Greedy(SpeculationMode::kDraftModel), target, &draft, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Ids(*r), expected);
  EXPECT_EQ(target.spills(), 1);
  EXPECT_EQ(target.failovers(), 0);
  EXPECT_THAT(spills, ElementsAre(std::make_pair(size_t{0}, size_t{1})));
  ExpectNoSessions();
}

TEST_F(Replicas, FirstCallRefusedAsFullSpillsTheSessionToTheNext) {
  const std::vector<int64_t> expected = Reference(SpeculationMode::kOff);
  Crowded busy(*target_engines_[0], /*refuse_opens=*/false, {0});
  LocalTargetBackend b(*target_engines_[1]);
  FailoverTargetBackend target({&busy, &b}, 0);
  auto r = Generate(Greedy(SpeculationMode::kOff), target, nullptr, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Ids(*r), expected);
  EXPECT_EQ(target.spills(), 1);
  EXPECT_EQ(target.failovers(), 0);
  ExpectNoSessions();  // The refused replica's session was closed.
}

TEST_F(Replicas, FullAfterTheFirstAnswerIsTheCallersAnswer) {
  // Tokens of a session that answered may have reached the client: a later
  // refusal is reported, not silently moved.
  Crowded a(*target_engines_[0], /*refuse_opens=*/false, {1});
  LocalTargetBackend b(*target_engines_[1]);
  FailoverTargetBackend target({&a, &b}, 0);
  auto id = target.Open({1, 2, 3}, {});
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(target.Verify({*id, {3, {}}, {}}).ok());
  auto refused = target.Verify({*id, {4, {}}, {}});
  EXPECT_TRUE(absl::IsResourceExhausted(refused.status())) << refused.status();
  EXPECT_EQ(target.spills(), 0);
  EXPECT_EQ(*target.ReplicaOf(*id), 0u);
  target.Close(*id);
  ExpectNoSessions();
}

TEST_F(Replicas, EveryReplicaFullIsResourceExhaustedNamingTheLimit) {
  Crowded a(*target_engines_[0], /*refuse_opens=*/true);
  Crowded b(*target_engines_[1], /*refuse_opens=*/true);
  FailoverTargetBackend target({&a, &b}, 0);
  auto r = Generate(Greedy(SpeculationMode::kOff), target, nullptr, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(Crowded::kFull));
  EXPECT_EQ(target.spills(), 0);
  ExpectNoSessions();
}

TEST_F(Replicas, DraftOpenSpillsPastAFullDraftReplica) {
  // A draft replica at its session limit (one session held elsewhere).
  DraftEngine small(*drafts_[0], 1);
  LocalDraftBackend full(small);
  auto held = full.Open({9, 9}, {});
  ASSERT_TRUE(held.ok()) << held.status();
  LocalDraftBackend b(*draft_engines_[1]);
  FailoverDraftBackend draft({&full, &b}, 0);
  auto id = draft.Open({1, 2, 3}, {});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*draft.ReplicaOf(*id), 1u);
  EXPECT_EQ(draft.spills(), 1);
  draft.Close(*id);
  full.Close(*held);
  EXPECT_EQ(small.num_sessions(), 0);
  ExpectNoSessions();
}

}  // namespace
}  // namespace tandem::decoding
