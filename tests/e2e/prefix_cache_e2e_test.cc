// Prefix caching over real gRPC servers (issue 12 §2): with --prefix_cache on,
// requests whose prompts share a long prefix copy the kept KV instead of
// recomputing it, and every output is identical to a cluster without the
// cache — greedy in every speculation mode, and seeded sampling (position-keyed
// randomness) — while the servers keep the closed sessions' sequences.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/tandem_client.h"
#include "services/common/metrics.h"
#include "tests/e2e/e2e_cluster.h"
#include "tests/e2e/tiny_pair_cluster.h"

namespace tandem {
namespace {

std::vector<uint32_t> Ids(const v1::GeneratedSequence& s) {
  std::vector<uint32_t> ids;
  for (const auto& t : s.tokens()) ids.push_back(t.token_id());
  return ids;
}

TEST(PrefixCacheE2eTest, SharedPrefixesGiveIdenticalOutputsInEveryMode) {
  testing::E2eOptions options;
  absl::StatusOr<testing::TinyPairCluster> plain_pair = testing::StartTinyPairCluster(options);
  options.prefix_cache_entries = 8;
  absl::StatusOr<testing::TinyPairCluster> cached_pair = testing::StartTinyPairCluster(options);
  ASSERT_TRUE(plain_pair.ok()) << plain_pair.status();
  ASSERT_TRUE(cached_pair.ok()) << cached_pair.status();
  testing::E2eCluster* plain = plain_pair->cluster.get();
  testing::E2eCluster* cached = cached_pair->cluster.get();

  // 30 shared tokens (a "system prompt"), then a per-request tail.
  std::vector<uint32_t> shared = {1};
  for (int i = 0; i < 29; ++i) shared.push_back(3 + (i * 3) % 5);
  int requests = 0;
  for (const char* mode : {"off", "draft", "self", "ngram"}) {
    for (int tail = 0; tail < 3; ++tail) {
      for (bool sampled : {false, true}) {
        client::GenerateOptions o;
        std::vector<uint32_t> prompt = shared;
        prompt.push_back(3 + tail);
        prompt.push_back(7 - tail);
        o.prompt_token_ids = {prompt};
        o.temperature = sampled ? 1.0f : 0.0f;
        if (sampled) o.seed = 11 + tail;
        o.max_new_tokens = 16;
        o.speculation = mode;
        if (std::string(mode) != "off") o.draft_length = 3;
        if (std::string(mode) == "self") o.exit_layer = 1;
        v1::GenerateRequest r = *client::BuildRequest(o);
        r.mutable_config()->mutable_stopping()->set_ignore_eos(true);
        client::TandemClient a(plain->address()), b(cached->address());
        auto want = a.Generate(r);
        auto got = b.Generate(r);
        ASSERT_TRUE(want.ok()) << want.status();
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(Ids(got->sequences(0)), Ids(want->sequences(0)))
            << mode << " tail " << tail << (sampled ? " sampled" : " greedy");
        ++requests;
      }
    }
  }
  EXPECT_EQ(requests, 24);
  // The cached cluster keeps closed sessions' KV (up to 8 on each server);
  // the plain one keeps nothing.
  {
    std::lock_guard<std::mutex> lock(cached->target_service().engine_mutex());
    EXPECT_GT(cached->target_model().num_sequences(), 0);
    EXPECT_LE(cached->target_model().num_sequences(), 8);
  }
  {
    std::lock_guard<std::mutex> lock(plain->target_service().engine_mutex());
    EXPECT_EQ(plain->target_model().num_sequences(), 0);
  }
  // Prometheus counts the hits (the plain cluster has none to add).
  const std::string text = services::metrics::Registry::Default().RenderText();
  double hits = -1;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "tandem_target_prefix_cache_hits_total ")) {
      ASSERT_TRUE(absl::SimpleAtod(line.substr(line.find(' ') + 1), &hits)) << line;
    }
  }
  // Every request after the first shares the 30-token prefix with a kept one.
  EXPECT_GE(hits, 20) << text;
}

// A counter of the target's prefix cache (the other cluster in a test runs
// without one and adds nothing).
double TargetPrefixCounter(absl::string_view name) {
  const std::string text = services::metrics::Registry::Default().RenderText();
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, absl::StrCat(name, " "))) {
      double hits = -1;
      if (absl::SimpleAtod(line.substr(line.find(' ') + 1), &hits)) return hits;
    }
  }
  return 0;
}

// num_return_sequences > 1: the first sequence of the prompt opens (and
// prefills) alone, the others start after it and copy its prompt from its
// still-open session — the prompt runs once, not n times — with outputs
// identical to a cluster without prefix caching. (Prefill runs 2 positions
// per engine step: a sibling that opened while the first was still
// prefilling would find only part of the prompt; the orchestrator starts
// siblings after the first has opened.)
TEST(PrefixCacheE2eTest, ReturnSequencesShareTheirPromptsPrefill) {
  testing::E2eOptions options;
  options.prefill_chunk = 2;
  absl::StatusOr<testing::TinyPairCluster> plain_pair = testing::StartTinyPairCluster(options);
  options.prefix_cache_entries = 8;
  absl::StatusOr<testing::TinyPairCluster> cached_pair = testing::StartTinyPairCluster(options);
  ASSERT_TRUE(plain_pair.ok()) << plain_pair.status();
  ASSERT_TRUE(cached_pair.ok()) << cached_pair.status();
  std::vector<uint32_t> prompt = {1};
  for (int i = 0; i < 39; ++i) prompt.push_back(3 + (i * 2) % 5);  // Never seen before.
  client::GenerateOptions o;
  o.prompt_token_ids = {prompt};
  o.temperature = 1.0f;
  o.seed = 5;
  o.num_return_sequences = 4;
  o.max_new_tokens = 12;
  o.speculation = "off";
  v1::GenerateRequest r = *client::BuildRequest(o);
  r.mutable_config()->mutable_stopping()->set_ignore_eos(true);
  client::TandemClient a(plain_pair->cluster->address()), b(cached_pair->cluster->address());
  auto want = a.Generate(r);
  const double hits = TargetPrefixCounter("tandem_target_prefix_cache_hits_total");
  const double reused = TargetPrefixCounter("tandem_target_prefix_cache_reused_tokens_total");
  auto got = b.Generate(r);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->sequences_size(), 4);
  ASSERT_EQ(want->sequences_size(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Ids(got->sequences(i)), Ids(want->sequences(i))) << "sequence " << i;
  }
  EXPECT_EQ(TargetPrefixCounter("tandem_target_prefix_cache_hits_total") - hits, 3)
      << "each sibling copies the first one's prompt";
  EXPECT_EQ(TargetPrefixCounter("tandem_target_prefix_cache_reused_tokens_total") - reused,
            3 * 39)
      << "...all of it (but the pending last token)";
}

}  // namespace
}  // namespace tandem
