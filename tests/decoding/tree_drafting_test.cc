// Token trees through the decoding loop (issue 10 §3): the draft model's
// chain plus its next-best alternatives, verified in one target pass.
// Greedy output is token-identical to target-only decoding (the real tiny
// transformer pair, so the tree attention of the model runs), sampled output
// follows the target's distribution (chi-square through the loop, with a
// planted tree-verification bug through the same path that must fail), and
// the tree's shape bookkeeping (Draft::Slice for pre-drafts) is exact.

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "decoding/draft_steps.h"
#include "decoding/engines.h"
#include "decoding/generator.h"
#include "decoding/local_backends.h"
#include "model/testing/fake_model.h"
#include "sampling/testing/planted_verifier_bug.h"
#include "tests/decoding/local_pair.h"
#include "tests/decoding/markov_chain.h"
#include "tests/testing/statistics.h"

namespace tandem::decoding {
namespace {

TEST(DraftTreeShapeTest, ChainAndSlice) {
  // Chain g, a, b, c; alternatives a' (sibling of a), b' b'' (siblings of b).
  Draft d;
  d.tokens = {10, 11, 12, 13, 21, 22, 32};
  d.parents = {-1, 0, 1, 2, 0, 1, 1};
  d.dists.assign(d.tokens.size(), sampling::DraftDistribution::OneHot());
  EXPECT_EQ(d.chain_length(), 4u);
  EXPECT_EQ(d.chain(), (std::vector<int64_t>{10, 11, 12, 13}));
  // Drop the guess g: a and a' become children of the root.
  Draft s = d.Slice(1, 3);
  EXPECT_EQ(s.tokens, (std::vector<int64_t>{11, 12, 13, 21, 22, 32}));
  EXPECT_EQ(s.parents, (std::vector<int32_t>{-1, 0, 1, -1, 0, 0}));
  EXPECT_EQ(s.dists.size(), s.tokens.size());
  // Keep one drafted token: only a's sibling stays.
  s = d.Slice(1, 1);
  EXPECT_EQ(s.tokens, (std::vector<int64_t>{11, 21}));
  EXPECT_EQ(s.parents, (std::vector<int32_t>{-1, -1}));
  // No alternatives left: a plain chain.
  Draft chain;
  chain.tokens = {1, 2, 3};
  chain.parents = {-1, 0, 1};
  EXPECT_TRUE(chain.Slice(1, 2).parents.empty());
  EXPECT_EQ(chain.Slice(1, 2).tokens, (std::vector<int64_t>{2, 3}));
  Draft plain;
  plain.tokens = {5, 6};
  EXPECT_EQ(plain.chain_length(), 2u);
  EXPECT_FALSE(plain.is_tree());
}

// ProposeItem::top_logprobs (speculative beam search drafts from it): one
// list per chain token, best first, the greedy draft's token on top, its
// log-probabilities normalised; out of range is refused.
TEST(DraftCandidatesTest, ProposeReportsTheDraftsTopTokensPerPosition) {
  testing::LocalPair pair;
  SessionOptions greedy;
  greedy.params.temperature = 0;
  const SessionId id = *pair.draft_engine().Open({1, 2, 3}, greedy);
  ProposeItem item{id, {3, {}}, 3};
  item.top_logprobs = 4;
  std::vector<DraftOutcome> out = pair.draft_engine().Propose({item});
  ASSERT_TRUE(out[0].status.ok()) << out[0].status;
  const Draft& d = out[0].draft;
  ASSERT_EQ(d.candidates.size(), d.tokens.size());
  for (size_t i = 0; i < d.tokens.size(); ++i) {
    ASSERT_EQ(d.candidates[i].size(), 4u);
    EXPECT_EQ(d.candidates[i][0].token, d.tokens[i]);
    double mass = 0;
    for (size_t k = 0; k < 4; ++k) {
      mass += std::exp(d.candidates[i][k].logprob);
      if (k > 0) EXPECT_GE(d.candidates[i][k - 1].logprob, d.candidates[i][k].logprob);
    }
    EXPECT_LE(mass, 1.0 + 1e-5);
    EXPECT_GT(mass, 0.0);
  }
  item.top_logprobs = kMaxProposeTopLogprobs + 1;
  out = pair.draft_engine().Propose({item});
  EXPECT_EQ(out[0].status.code(), absl::StatusCode::kInvalidArgument);
  item.top_logprobs = 0;
  out = pair.draft_engine().Propose({item});
  ASSERT_TRUE(out[0].status.ok());
  EXPECT_TRUE(out[0].draft.candidates.empty());
}

TEST(DraftTreeShapeTest, TreeRequestLimits) {
  EXPECT_TRUE(CheckTreeRequest(4, 2, 3).ok());
  EXPECT_TRUE(CheckTreeRequest(8, 1, 8).ok());  // 16 tokens.
  EXPECT_EQ(CheckTreeRequest(8, 2, 8).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckTreeRequest(4, 4, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckTreeRequest(2, 1, 3).code(), absl::StatusCode::kInvalidArgument);
}

TEST(TreeVerifyItemTest, ABadTreeFailsAloneAndKeepsTheSessionUsable) {
  testing::LocalPair pair;
  TargetEngine& engine = pair.target_engine();
  SessionOptions greedy;
  greedy.params.temperature = 0;
  const std::vector<int64_t> prompt = {1, 2, 3};
  const SessionId bad = *engine.Open(prompt, greedy);
  const SessionId good = *engine.Open(prompt, greedy);
  Draft forward_parent;
  forward_parent.tokens = {4, 5};
  forward_parent.parents = {-1, 1};
  Draft tree;
  tree.tokens = {4, 5, 6};
  tree.parents = {-1, 0, -1};
  std::vector<VerifyOutcome> out = engine.Verify(
      {VerifyItem{bad, {3, {}}, forward_parent}, VerifyItem{good, {3, {}}, tree}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].status.code(), absl::StatusCode::kInvalidArgument) << out[0].status;
  ASSERT_TRUE(out[1].status.ok()) << out[1].status;
  const sampling::VerifyResult& r = out[1].result;
  EXPECT_EQ(r.accepted_nodes.size(), static_cast<size_t>(r.num_accepted));
  EXPECT_EQ(out[1].committed_length, 3 + r.num_accepted + 1);
  EXPECT_EQ(pair.target_model().Length(good), 3 + r.num_accepted);
  // Too many nodes.
  Draft big;
  for (int i = 0; i <= kMaxTreeNodes; ++i) {
    big.tokens.push_back(1);
    big.parents.push_back(-1);
  }
  out = engine.Verify({VerifyItem{bad, {3, {}}, big}});
  EXPECT_EQ(out[0].status.code(), absl::StatusCode::kInvalidArgument);
  // The refused session still decodes.
  out = engine.Verify({VerifyItem{bad, {3, {}}, {}}});
  EXPECT_TRUE(out[0].status.ok()) << out[0].status;
  EXPECT_EQ(out[0].committed_length, 4);
}

std::vector<int64_t> Ids(const GenerationResult& r) {
  std::vector<int64_t> out;
  for (const auto& s : r.tokens) out.push_back(s.token);
  return out;
}

TEST(TreeDraftingTest, GreedyTreesAreTokenIdenticalToTargetOnly) {
  testing::LocalPair pair;
  int64_t alternatives = 0, alternative_hits = 0, hits = 0;
  for (const std::vector<int64_t>& prompt :
       std::vector<std::vector<int64_t>>{{1, 2, 3}, {7}, {4, 4, 4, 4}, {9, 8, 7, 6, 5}}) {
    GenerateRequest r;
    r.prompt = prompt;
    r.session.params.temperature = 0;
    r.stop.max_new_tokens = 40;
    auto reference = Generate(r, pair.target(), nullptr, {});
    ASSERT_TRUE(reference.ok()) << reference.status();
    r.speculation.mode = SpeculationMode::kDraftModel;
    for (int gamma : {1, 3, 5}) {
      for (int width : {1, 2}) {
        for (bool pipelined : {false, true}) {
          r.speculation.draft_length = gamma;
          r.speculation.tree_alternatives = width;
          r.speculation.tree_depth = 3;
          r.speculation.pipelined = pipelined;
          // Adaptive trees (tree_shape_policy.h) switch between trees and
          // chains round by round; exact either way.
          r.speculation.adaptive_tree = width == 2 && pipelined;
          auto got = Generate(r, pair.target(), &pair.draft(), {});
          ASSERT_TRUE(got.ok()) << got.status();
          EXPECT_EQ(Ids(*got), Ids(*reference))
              << "γ " << gamma << " width " << width << " pipelined " << pipelined;
          alternatives += got->stats.tree_alternatives;
          alternative_hits += got->stats.tree_alternative_hits;
          hits += got->stats.pre_draft_hits;
        }
      }
    }
  }
  // The alternatives were drafted, some were the target's choice, and
  // pre-drafted trees were used.
  EXPECT_GT(alternatives, 0);
  EXPECT_GT(alternative_hits, 0);
  EXPECT_GT(hits, 0);
  EXPECT_EQ(pair.target_model().num_sequences(), 0);
  EXPECT_EQ(pair.draft_model().num_sequences(), 0);
}

TEST(TreeDraftingTest, TreesStopAtTheContextEnd) {
  // Context 128: the last rounds have no room for alternatives (or drafts).
  testing::LocalPair pair;
  GenerateRequest r;
  for (int i = 0; i < 110; ++i) r.prompt.push_back(1 + (i * 7) % 20);
  r.session.params.temperature = 0;
  r.stop.max_new_tokens = 40;
  auto reference = Generate(r, pair.target(), nullptr, {});
  ASSERT_TRUE(reference.ok()) << reference.status();
  EXPECT_EQ(reference->finish, FinishReason::kLength);
  r.speculation.mode = SpeculationMode::kDraftModel;
  r.speculation.draft_length = 4;
  r.speculation.tree_alternatives = 3;
  r.speculation.tree_depth = 4;
  auto got = Generate(r, pair.target(), &pair.draft(), {});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(Ids(*got), Ids(*reference));
  EXPECT_GT(got->stats.tree_alternatives, 0);
}

constexpr int kVocab = testing::kMarkovVocab;
using testing::MarkovRow;
using testing::Softmax;

struct TreeRun {
  tandem::testing::GoodnessOfFit fit;
  int64_t drafted = 0, accepted = 0, alternatives = 0, alternative_hits = 0, pre_draft_hits = 0;
};

// 6 tokens after the prompt, γ = 3 with 2 alternatives at the first 2
// positions, pipelined; the joint law of tokens 1, 2 and 6 against the
// chain's exact one (token 6 comes after rollbacks and pre-drafts).
TreeRun SampleWithTrees() {
  testing::MarkovPair pair;
  LocalTargetBackend& target = pair.target;
  LocalDraftBackend& draft = pair.draft;
  TreeRun run;
  std::vector<int64_t> counts(kVocab * kVocab * kVocab);
  const int runs = tandem::testing::StatRounds(30000);
  for (int i = 0; i < runs; ++i) {
    GenerateRequest r;
    r.prompt = {0, 3, 2};
    r.session.params.temperature = 1.0;
    r.session.seed = 1000 + i;
    r.stop.max_new_tokens = 6;
    r.speculation.mode = SpeculationMode::kDraftModel;
    r.speculation.draft_length = 3;
    r.speculation.tree_alternatives = 2;
    r.speculation.tree_depth = 2;
    r.speculation.pipelined = true;
    auto out = Generate(r, target, &draft, {});
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok() || out->tokens.size() != 6u) return run;
    ++counts[(out->tokens[0].token * kVocab + out->tokens[1].token) * kVocab +
             out->tokens[5].token];
    run.drafted += out->stats.drafted;
    run.accepted += out->stats.accepted;
    run.alternatives += out->stats.tree_alternatives;
    run.alternative_hits += out->stats.tree_alternative_hits;
    run.pre_draft_hits += out->stats.pre_draft_hits;
  }
  std::vector<std::vector<double>> P(kVocab);
  for (int a = 0; a < kVocab; ++a) P[a] = Softmax(MarkovRow(a, false));
  const std::vector<double> first = Softmax(MarkovRow(2, false));
  // P(t1 = a, t2 = b, t6 = c) = first[a] P[a][b] (P^4)[b][c].
  std::vector<double> expected(counts.size());
  for (int a = 0; a < kVocab; ++a) {
    for (int b = 0; b < kVocab; ++b) {
      std::vector<double> law(kVocab, 0.0);
      law[b] = 1.0;
      for (int step = 0; step < 4; ++step) {
        std::vector<double> next(kVocab, 0.0);
        for (int x = 0; x < kVocab; ++x) {
          for (int y = 0; y < kVocab; ++y) next[y] += law[x] * P[x][y];
        }
        law = next;
      }
      for (int c = 0; c < kVocab; ++c) {
        expected[(a * kVocab + b) * kVocab + c] = first[a] * P[a][b] * law[c];
      }
    }
  }
  run.fit = tandem::testing::ChiSquareTest(counts, expected);
  EXPECT_EQ(pair.target_model.num_sequences(), 0);
  EXPECT_EQ(pair.draft_model.num_sequences(), 0);
  return run;
}

TEST(TreeDraftingTest, SampledTreesFollowTheTarget) {
  const TreeRun run = SampleWithTrees();
  EXPECT_GT(run.fit.p_value, 1e-3) << run.fit.ToString();
  EXPECT_EQ(run.fit.impossible, 0);
  // The tree path was really taken: chain tokens accepted and rejected,
  // alternatives drafted and accepted where the chain was rejected.
  EXPECT_GT(run.accepted, 0);
  EXPECT_GT(run.drafted - run.accepted, 0);
  EXPECT_GT(run.alternatives, 0);
  EXPECT_GT(run.alternative_hits, 0);
  EXPECT_GT(run.pre_draft_hits, 0);
}

TEST(TreeDraftingTest, NegativeControlSiblingsTestedWithoutTheResidualFail) {
  sampling::testing::ScopedPlantedVerifierBug bug(
      sampling::testing::VerifierFault::kSiblingWithoutResidual);
  const TreeRun run = SampleWithTrees();
  EXPECT_LT(run.fit.p_value, 1e-3) << run.fit.ToString();
  EXPECT_GT(run.alternative_hits, 0);
}

}  // namespace
}  // namespace tandem::decoding
