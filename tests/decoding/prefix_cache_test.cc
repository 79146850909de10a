// Prefix caching across sessions (issue 12 §2): a closed session's KV is kept
// and a new prompt that starts the same way copies it; decoding after a copied
// prefix is bit-identical to decoding after a recomputed one (the CPU decoder
// is batch-invariant and the copy is exact); least recently used entries go
// first, short prompts are not kept, and kept prefixes give way to a KV budget.
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "decoding/engines.h"
#include "model/transformer_model.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::decoding {
namespace {

std::unique_ptr<model::TransformerModel> TinyTarget(int64_t budget = 0) {
  model::ModelConfig c = model::testing::TinyLlamaConfig();
  c.max_position_embeddings = 256;
  model::TransformerOptions o;
  o.kv_budget_bytes = budget;
  return *model::TransformerModel::Create(model::testing::RandomCheckpoint(c, 3), o);
}

std::vector<int64_t> Prompt(int n, int salt) {
  std::vector<int64_t> p;
  for (int i = 0; i < n; ++i) p.push_back((i * 13 + salt * 7 + 3) % 60 + 1);
  return p;
}

// n greedy steps; returns the tokens and their logprobs.
std::vector<std::pair<int64_t, double>> Decode(TargetEngine& engine, SessionId id,
                                               int64_t length, int n) {
  std::vector<std::pair<int64_t, double>> out;
  for (int i = 0; i < n; ++i) {
    std::vector<VerifyOutcome> step =
        engine.Verify({VerifyItem{id, SequenceSync{length, {}}, Draft{}}});
    EXPECT_TRUE(step[0].status.ok()) << step[0].status;
    if (!step[0].status.ok()) return out;
    const sampling::StepResult& t = step[0].result.emitted.front();
    out.push_back({t.token, t.logprob});
    ++length;
  }
  return out;
}

SessionOptions Greedy() {
  SessionOptions o;
  o.params.temperature = 0;
  o.max_sequence_length = 120;
  return o;
}

TEST(PrefixCacheTest, ACopiedPrefixDecodesExactlyAsARecomputedOne) {
  auto cached_model = TinyTarget();
  auto plain_model = TinyTarget();
  TargetEngine cached(*cached_model, 0, {/*max_entries=*/4});
  TargetEngine plain(*plain_model, 0);
  const std::vector<int64_t> shared = Prompt(60, 1);
  // A first request over the shared text, then closed: its KV is kept.
  auto first = cached.Open(shared, Greedy());
  ASSERT_TRUE(first.ok()) << first.status();
  Decode(cached, *first, 60, 5);
  ASSERT_TRUE(cached.Close(*first).ok());
  EXPECT_EQ(cached.prefix_cache().size(), 1);
  EXPECT_EQ(cached_model->num_sequences(), 1);

  // A second prompt: the shared text plus a different tail.
  std::vector<int64_t> second = shared;
  for (int64_t t : Prompt(12, 9)) second.push_back(t);
  auto a = cached.Open(second, Greedy());
  auto b = plain.Open(second, Greedy());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(cached.prefix_cache().hits(), 1);
  // The first session cached 60 + 4 positions; the shared 60 agree with the new prompt.
  EXPECT_EQ(cached.prefix_cache().reused_tokens(), 60);
  const int64_t length = static_cast<int64_t>(second.size());
  const auto got = Decode(cached, *a, length, 20);
  const auto want = Decode(plain, *b, length, 20);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first) << i;
    EXPECT_EQ(got[i].second, want[i].second) << i;  // Bit for bit.
  }
}

// Concurrent requests with the same system prompt: the second copies the
// prefix from the first while both are open (nothing was closed yet), and
// decodes exactly as with a recomputed prefix; the open session is untouched.
TEST(PrefixCacheTest, AnOpenSessionsPrefixIsCopiedNotRecomputed) {
  auto cached_model = TinyTarget();
  auto plain_model = TinyTarget();
  TargetEngine cached(*cached_model, 0, {/*max_entries=*/4});
  TargetEngine plain(*plain_model, 0);
  const std::vector<int64_t> system = Prompt(50, 4);
  std::vector<int64_t> first = system, second = system;
  for (int64_t t : Prompt(6, 5)) first.push_back(t);
  for (int64_t t : Prompt(9, 6)) second.push_back(t);
  auto a = cached.Open(first, Greedy());
  ASSERT_TRUE(a.ok()) << a.status();
  const auto a_before = Decode(cached, *a, static_cast<int64_t>(first.size()), 3);
  EXPECT_EQ(cached.prefix_cache().hits(), 0);
  auto b = cached.Open(second, Greedy());  // `a` is still open.
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(cached.prefix_cache().hits(), 1);
  EXPECT_EQ(cached.prefix_cache().reused_tokens(), 50);  // The shared system prompt.
  EXPECT_EQ(cached.prefix_cache().size(), 0);            // Nothing kept: a live copy.
  auto b_plain = plain.Open(second, Greedy());
  ASSERT_TRUE(b_plain.ok());
  const int64_t length = static_cast<int64_t>(second.size());
  const auto got = Decode(cached, *b, length, 16);
  const auto want = Decode(plain, *b_plain, length, 16);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first) << i;
    EXPECT_EQ(got[i].second, want[i].second) << i;  // Bit for bit.
  }
  // The source session decodes on as it would have alone.
  auto a_plain = plain.Open(first, Greedy());
  ASSERT_TRUE(a_plain.ok());
  const int64_t a_length = static_cast<int64_t>(first.size());
  const auto a_want = Decode(plain, *a_plain, a_length, 3 + 8);
  const auto a_after = Decode(cached, *a, a_length + 3, 8);
  for (size_t i = 0; i < a_before.size(); ++i) EXPECT_EQ(a_before[i], a_want[i]) << i;
  for (size_t i = 0; i < a_after.size(); ++i) EXPECT_EQ(a_after[i], a_want[3 + i]) << i;
  // Off (no prefix cache): every prompt is computed.
  auto off_model = TinyTarget();
  TargetEngine off(*off_model, 0);
  ASSERT_TRUE(off.Open(first, Greedy()).ok());
  ASSERT_TRUE(off.Open(second, Greedy()).ok());
  EXPECT_EQ(off.prefix_cache().hits(), 0);
}

TEST(PrefixCacheTest, LeastRecentlyUsedGoesFirstAndShortPromptsAreNotKept) {
  auto model = TinyTarget();
  TargetEngine engine(*model, 0, {/*max_entries=*/2});
  for (int salt : {1, 2, 3}) {
    auto id = engine.Open(Prompt(40, salt), Greedy());
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(engine.Close(*id).ok());
  }
  EXPECT_EQ(engine.prefix_cache().size(), 2);
  EXPECT_EQ(model->num_sequences(), 2);
  // salt 1 was evicted: no hit; salt 3 is kept: a hit.
  auto miss = engine.Open(Prompt(40, 1), Greedy());
  ASSERT_TRUE(miss.ok());
  EXPECT_EQ(engine.prefix_cache().hits(), 0);
  auto hit = engine.Open(Prompt(40, 3), Greedy());
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(engine.prefix_cache().hits(), 1);
  ASSERT_TRUE(engine.Close(*miss).ok());
  ASSERT_TRUE(engine.Close(*hit).ok());
  // Below min_tokens (16): released, not kept.
  const int64_t kept = engine.prefix_cache().size();
  auto tiny = engine.Open(Prompt(8, 5), Greedy());
  ASSERT_TRUE(tiny.ok());
  ASSERT_TRUE(engine.Close(*tiny).ok());
  EXPECT_EQ(engine.prefix_cache().size(), kept);
  EXPECT_EQ(model->num_sequences(), kept);
}

TEST(PrefixCacheTest, KeptPrefixesGiveWayToTheKvBudget) {
  const int64_t bpt = TinyTarget()->info().kv_bytes_per_token;
  // Two sessions of 128 positions (max_sequence_length 120, in 64-blocks).
  auto model = TinyTarget(2 * 128 * bpt);
  TargetEngine engine(*model, 0, {/*max_entries=*/4});
  auto first = engine.Open(Prompt(40, 1), Greedy());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(engine.Close(*first).ok());
  EXPECT_EQ(engine.prefix_cache().size(), 1);
  // Two new sessions need the whole budget: the kept prefix is evicted.
  auto a = engine.Open(Prompt(40, 2), Greedy());
  auto b = engine.Open(Prompt(40, 3), Greedy());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(engine.prefix_cache().size(), 0);
  EXPECT_LE(model->kv_cache_bytes(), 2 * 128 * bpt);
  // A third is refused, naming the budget.
  auto c = engine.Open(Prompt(40, 4), Greedy());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace tandem::decoding
