// Token-tree verification: a chain is verified exactly as VerifyDraft verifies
// it; greedy trees follow the target's argmax; and a decoding loop that
// verifies mixed trees (sampled chains with one-hot alternatives, i.i.d.
// siblings) emits sequences distributed as the target's own sampling
// (chi-square on the joint law of the first three tokens against the exact
// product of the target's conditionals, significance 0.001), while the same
// loop and statistic reject each planted verifier bug.

#include "sampling/tree_verifier.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sampling/sampling_params.h"
#include "sampling/speculative_verifier.h"
#include "sampling/testing/planted_verifier_bug.h"
#include "tests/sampling/test_util.h"
#include "tests/testing/statistics.h"

namespace tandem::sampling {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using internal::VerifierFault;
using tandem::testing::ChiSquareTest;
using tandem::testing::GoodnessOfFit;

constexpr double kSignificance = 1e-3;

using Dist = std::vector<double>;

using testing::RandomDist;
using testing::ToLogits;

at::Tensor DenseOf(const Dist& q) {
  at::Tensor t = at::empty({static_cast<int64_t>(q.size())});
  for (size_t v = 0; v < q.size(); ++v) t.data_ptr<float>()[v] = static_cast<float>(q[v]);
  return t;
}

DraftDistribution SparseOf(const Dist& q) {
  std::vector<int64_t> ids;
  std::vector<float> probs;
  for (size_t v = 0; v < q.size(); ++v) {
    if (q[v] > 0) {
      ids.push_back(static_cast<int64_t>(v));
      probs.push_back(static_cast<float>(q[v]));
    }
  }
  return DraftDistribution::Sparse(std::move(ids), std::move(probs));
}

// q rounded to float (the values the verifier sees), for drawing from.
int64_t SampleFrom(const Dist& q, std::mt19937& gen) {
  std::vector<double> rounded(q.size());
  for (size_t v = 0; v < q.size(); ++v) rounded[v] = static_cast<float>(q[v]);
  std::discrete_distribution<int64_t> pick(rounded.begin(), rounded.end());
  return pick(gen);
}

// The n most likely tokens of q, ties to the lower id.
std::vector<int64_t> TopTokensOf(const Dist& q, int n) {
  std::vector<int64_t> ids(q.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int64_t a, int64_t b) { return q[a] > q[b]; });
  ids.resize(n);
  return ids;
}

std::vector<int64_t> Tokens(const VerifyResult& r) {
  std::vector<int64_t> out;
  for (const StepResult& s : r.emitted) out.push_back(s.token);
  return out;
}

std::vector<int32_t> ChainParents(size_t n) {
  std::vector<int32_t> parents(n);
  std::iota(parents.begin(), parents.end(), -1);
  return parents;
}

// ---------------------------------------------------------------------------
// A chain is a tree: same tokens, logprobs, alternatives and acceptances as
// VerifyDraft, sampled and greedy, with and without the shared planted bugs.

enum class Form { kDense, kSparse, kOneHot, kNone };

struct ChainCase {
  std::vector<Dist> p;
  std::vector<int64_t> tokens;
  std::vector<DraftDistribution> dists;
};

ChainCase RandomChain(std::mt19937_64& gen, int trial) {
  const int gamma = trial % 7;
  const int vocab = 5 + trial % 6;
  const Form form = static_cast<Form>(trial % 4);
  ChainCase c;
  for (int i = 0; i <= gamma; ++i) c.p.push_back(RandomDist(gen, vocab, 2.0));
  std::mt19937 draw(trial);
  for (int i = 0; i < gamma; ++i) {
    Dist q = RandomDist(gen, vocab, 2.0);
    if (form == Form::kSparse) {  // Truncated to the top 3, as top-k would.
      const std::vector<int64_t> order = TopTokensOf(q, vocab);
      double kept = 0;
      for (int r = 0; r < vocab; ++r) {
        if (r >= 3) q[order[r]] = 0;
        kept += q[order[r]];
      }
      for (double& x : q) x /= kept;
    }
    switch (form) {
      case Form::kDense:
        c.tokens.push_back(SampleFrom(q, draw));
        c.dists.push_back(DraftDistribution::Dense(DenseOf(q)));
        break;
      case Form::kSparse:
        c.tokens.push_back(SampleFrom(q, draw));
        c.dists.push_back(SparseOf(q));
        break;
      case Form::kOneHot:
        c.tokens.push_back(TopTokensOf(q, 1)[0]);
        c.dists.push_back(DraftDistribution::OneHot());
        break;
      case Form::kNone:
        c.tokens.push_back(static_cast<int64_t>(draw() % vocab));
        c.dists.push_back(DraftDistribution::None());
        break;
    }
  }
  return c;
}

void ExpectSameResult(const VerifyResult& chain, const VerifyResult& tree, int trial) {
  SCOPED_TRACE(::testing::Message() << "trial " << trial);
  EXPECT_EQ(tree.num_accepted, chain.num_accepted);
  EXPECT_EQ(tree.accepted_nodes, chain.accepted_nodes);
  ASSERT_EQ(tree.emitted.size(), chain.emitted.size());
  for (size_t i = 0; i < chain.emitted.size(); ++i) {
    EXPECT_EQ(tree.emitted[i].token, chain.emitted[i].token);
    EXPECT_EQ(tree.emitted[i].logprob, chain.emitted[i].logprob);
    EXPECT_EQ(tree.emitted[i].prob, chain.emitted[i].prob);
    ASSERT_EQ(tree.emitted[i].top.size(), chain.emitted[i].top.size());
    for (size_t k = 0; k < chain.emitted[i].top.size(); ++k) {
      EXPECT_EQ(tree.emitted[i].top[k].token, chain.emitted[i].top[k].token);
      EXPECT_EQ(tree.emitted[i].top[k].logprob, chain.emitted[i].top[k].logprob);
    }
  }
}

class ChainEquivalenceTest : public ::testing::TestWithParam<VerifierFault> {};

TEST_P(ChainEquivalenceTest, ChainVerifiesExactlyAsVerifyDraft) {
  testing::ScopedPlantedVerifierBug fault(GetParam());
  std::mt19937_64 gen(4242);
  int rejections = 0, full_accepts = 0;
  for (int trial = 0; trial < 600; ++trial) {
    ChainCase c = RandomChain(gen, trial);
    const at::Tensor logits = ToLogits(c.p);
    const DraftTree tree{c.tokens, ChainParents(c.tokens.size()), c.dists};
    const int64_t first_position = trial * 3;
    for (bool greedy : {false, true}) {
      const VerifyOptions options{greedy, /*top_n=*/2};
      auto chain = VerifyDraft(logits, c.tokens, c.dists, options, Rng(trial), first_position);
      auto verified = VerifyTree(logits, tree, options, Rng(trial), first_position);
      ASSERT_TRUE(chain.ok()) << chain.status();
      ASSERT_TRUE(verified.ok()) << verified.status();
      ExpectSameResult(*chain, *verified, trial);
      std::vector<int32_t> accepted_prefix(chain->num_accepted);
      std::iota(accepted_prefix.begin(), accepted_prefix.end(), 0);
      EXPECT_EQ(chain->accepted_nodes, accepted_prefix);
      if (!greedy) {
        rejections += chain->num_accepted < static_cast<int>(c.tokens.size());
        full_accepts += chain->num_accepted == static_cast<int>(c.tokens.size());
      }
    }
  }
  // Both branches (correction and bonus) were compared many times.
  EXPECT_GT(rejections, 40);
  EXPECT_GT(full_accepts, 40);
}

INSTANTIATE_TEST_SUITE_P(
    Faults, ChainEquivalenceTest,
    ::testing::Values(VerifierFault::kNone, VerifierFault::kInvertedAcceptRatio,
                      VerifierFault::kResidualWithoutClamp,
                      VerifierFault::kSiblingWithoutResidual),
    [](const ::testing::TestParamInfo<VerifierFault>& info) {
      return std::string("fault_") + std::to_string(static_cast<int>(info.param));
    });

// ---------------------------------------------------------------------------
// Greedy trees.

at::Tensor ArgmaxRows(const std::vector<int64_t>& argmax, int vocab) {
  at::Tensor t = at::zeros({static_cast<int64_t>(argmax.size()), vocab});
  for (size_t r = 0; r < argmax.size(); ++r) t[r][argmax[r]] = 5.0f;
  return t;
}

VerifyResult Greedy(const std::vector<int64_t>& argmax_rows, DraftTree tree) {
  auto r = VerifyTree(ArgmaxRows(argmax_rows, 8), tree, VerifyOptions{/*greedy=*/true, 1},
                      Rng(1), 0);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : VerifyResult{};
}

//   root ─ n0:2
//        └ n1:3 ─ n2:5
//                └ n3:6 ─ n4:1
TEST(GreedyTreeTest, FollowsTheArgmaxPathToALeafThenBonus) {
  const DraftTree tree{{2, 3, 5, 6, 1}, {-1, -1, 1, 1, 3}, {}};
  // Rows: root, n0, n1, n2, n3, n4.
  VerifyResult r = Greedy({3, 0, 6, 0, 1, 7}, tree);
  EXPECT_EQ(r.num_accepted, 3);
  EXPECT_THAT(r.accepted_nodes, ElementsAre(1, 3, 4));
  EXPECT_THAT(Tokens(r), ElementsAre(3, 6, 1, 7));
  EXPECT_EQ(r.emitted[3].top.size(), 1u);
}

TEST(GreedyTreeTest, StopsWithTheArgmaxWhereNoChildMatches) {
  const DraftTree tree{{2, 3, 5, 6, 1}, {-1, -1, 1, 1, 3}, {}};
  VerifyResult at_root = Greedy({4, 0, 6, 0, 1, 7}, tree);
  EXPECT_EQ(at_root.num_accepted, 0);
  EXPECT_THAT(at_root.accepted_nodes, IsEmpty());
  EXPECT_THAT(Tokens(at_root), ElementsAre(4));
  VerifyResult mid = Greedy({3, 0, 7, 0, 1, 7}, tree);
  EXPECT_THAT(mid.accepted_nodes, ElementsAre(1));
  EXPECT_THAT(Tokens(mid), ElementsAre(3, 7));
}

TEST(GreedyTreeTest, FirstOfDuplicateSiblingsWins) {
  // n0 and n1 both hold 3; their rows differ, so the row used tells which.
  const DraftTree tree{{3, 3}, {-1, -1}, {}};
  VerifyResult r = Greedy({3, 4, 5}, tree);
  EXPECT_THAT(r.accepted_nodes, ElementsAre(0));
  EXPECT_THAT(Tokens(r), ElementsAre(3, 4));
}

TEST(GreedyTreeTest, EmptyTreeIsOneTargetStep) {
  VerifyResult r = Greedy({6}, DraftTree{});
  EXPECT_EQ(r.num_accepted, 0);
  EXPECT_THAT(Tokens(r), ElementsAre(6));
}

// ---------------------------------------------------------------------------
// Sampled trees with forced outcomes (independent of the seed).

TEST(SampledTreeTest, LaterSiblingIsTestedAgainstTheResidual) {
  // p = (0.5, 0.5, 0, 0). n0 = one-hot 0 is accepted with probability 0.5;
  // when it is rejected the residual is one-hot on 1, so n1 = one-hot 1 must
  // then be accepted (against p itself only half the time).
  const at::Tensor rows = ToLogits({{0.5, 0.5, 1e-30, 1e-30}, {0.25, 0.25, 0.25, 0.25},
                                    {0.25, 0.25, 0.25, 0.25}});
  const DraftTree tree{{0, 1}, {-1, -1}, {DraftDistribution::OneHot(), DraftDistribution::OneHot()}};
  int later_accepts = 0;
  for (int seed = 0; seed < 200; ++seed) {
    auto r = VerifyTree(rows, tree, VerifyOptions{}, Rng(seed), 10);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->num_accepted, 1);
    later_accepts += r->accepted_nodes[0] == 1;
    EXPECT_EQ(r->emitted[0].token, r->accepted_nodes[0]);
    // The logprob is under the unresidualized root row.
    EXPECT_NEAR(r->emitted[0].logprob, std::log(0.5), 1e-6);
  }
  EXPECT_GT(later_accepts, 50);
  EXPECT_LT(later_accepts, 150);
}

TEST(SampledTreeTest, CorrectionComesFromTheResidualOfAllSiblings) {
  // p has mass only on 0, 1, 2; siblings one-hot 0 and 1 can be rejected, and
  // then the correction can only be 2. Siblings 3 (p(3) ~ 0) are always rejected.
  const Dist p = {0.2, 0.3, 0.5, 1e-30};
  const Dist uniform(4, 0.25);
  const at::Tensor rows = ToLogits({p, uniform, uniform, uniform});
  const DraftTree tree{{0, 1, 3},
                       {-1, -1, -1},
                       {DraftDistribution::OneHot(), DraftDistribution::None(),
                        DraftDistribution::OneHot()}};
  std::vector<int> counts(4);
  for (int seed = 0; seed < 400; ++seed) {
    auto r = VerifyTree(rows, tree, VerifyOptions{}, Rng(seed), 0);
    ASSERT_TRUE(r.ok()) << r.status();
    ++counts[r->emitted[0].token];
    if (r->emitted[0].token == 2) {
      EXPECT_EQ(r->num_accepted, 0);
      EXPECT_NEAR(r->emitted[0].logprob, std::log(0.5), 1e-6);
    }
  }
  EXPECT_EQ(counts[3], 0);
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts[2], 0);
}

// ---------------------------------------------------------------------------
// Exactness of a decoding loop that verifies trees.
//
// A synthetic target p(next | history) and a mismatched synthetic draft
// q(next | history) over a 4-token vocabulary, each a fixed pseudo-random
// function of the whole history. Every trial decodes the first three tokens by
// rounds: build a tree after the history, take the target's rows for every
// node, VerifyTree (seed = trial), append what it emits. The joint law of the
// three tokens is compared with p(x1) p(x2|x1) p(x3|x1 x2), computed directly.

constexpr int kVocab = 4;
constexpr int kLength = 3;

Dist Conditional(const std::vector<int64_t>& history, uint64_t salt) {
  uint64_t seed = salt;
  for (int64_t t : history) seed = seed * 1000003 + static_cast<uint64_t>(t) + 1;
  std::mt19937_64 gen(seed);
  return RandomDist(gen, kVocab, 1.3);
}
Dist TargetP(const std::vector<int64_t>& history) { return Conditional(history, 11); }
Dist DraftQ(const std::vector<int64_t>& history) { return Conditional(history, 97); }

std::vector<double> ExactJoint() {
  std::vector<double> joint(kVocab * kVocab * kVocab);
  for (int64_t a = 0; a < kVocab; ++a) {
    for (int64_t b = 0; b < kVocab; ++b) {
      for (int64_t c = 0; c < kVocab; ++c) {
        joint[(a * kVocab + b) * kVocab + c] =
            TargetP({})[a] * TargetP({a})[b] * TargetP({a, b})[c];
      }
    }
  }
  return joint;
}

// A tree under construction, with each node's path (root..node) kept here,
// independently of ProcessTreePositions.
class TreeBuilder {
 public:
  explicit TreeBuilder(std::vector<int64_t> history) : history_(std::move(history)) {}

  int32_t Add(int32_t parent, int64_t token, DraftDistribution dist) {
    tree_.tokens.push_back(token);
    tree_.parents.push_back(parent);
    tree_.dists.push_back(std::move(dist));
    std::vector<int64_t> path = Context(parent);
    path.push_back(token);
    contexts_.push_back(std::move(path));
    return static_cast<int32_t>(tree_.tokens.size()) - 1;
  }
  // history + the path root..node (node -1: the root).
  std::vector<int64_t> Context(int32_t node) const {
    return node < 0 ? history_ : contexts_[node];
  }
  // The target's rows: the root's, then every node's.
  at::Tensor TargetRows() const {
    std::vector<Dist> rows = {TargetP(history_)};
    for (const std::vector<int64_t>& context : contexts_) rows.push_back(TargetP(context));
    return ToLogits(rows);
  }
  const DraftTree& tree() const { return tree_; }

 private:
  std::vector<int64_t> history_;
  std::vector<std::vector<int64_t>> contexts_;
  DraftTree tree_;
};

enum class Shape { kChainWithAlternatives, kAlternativeFirst, kIidSiblings };

// A sampled chain of depth 2 (sparse q), then the draft's top-2 tokens as
// one-hot alternatives at depth 0 and 1. An alternative equal to the sampled
// child at that node is left out, which is exact: a sampled child x can only
// be rejected when p(x) < q(x) (otherwise p/q >= 1 accepts it), and then the
// residual max(0, p - q) has no mass at x, so a one-hot copy of x would be
// rejected with certainty and leave the residual unchanged. The alternatives
// depend on x's token, never on its accept/reject outcome.
void BuildChainWithAlternatives(TreeBuilder& b, std::mt19937& gen) {
  const Dist q0 = DraftQ(b.Context(-1));
  const int64_t x1 = SampleFrom(q0, gen);
  const int32_t n0 = b.Add(-1, x1, SparseOf(q0));
  const Dist q1 = DraftQ(b.Context(n0));
  const int64_t x2 = SampleFrom(q1, gen);
  b.Add(n0, x2, SparseOf(q1));
  for (int64_t a : TopTokensOf(q0, 2)) {
    if (a != x1) b.Add(-1, a, DraftDistribution::OneHot());
  }
  for (int64_t a : TopTokensOf(q1, 2)) {
    if (a != x2) b.Add(n0, a, DraftDistribution::OneHot());
  }
}

// The draft's top token first (one-hot, with its own one-hot top child), then
// a sampled chain of depth 2 (dense q) as its later sibling, duplicates kept.
void BuildAlternativeFirst(TreeBuilder& b, std::mt19937& gen) {
  const Dist q0 = DraftQ(b.Context(-1));
  const int32_t top = b.Add(-1, TopTokensOf(q0, 1)[0], DraftDistribution::None());
  b.Add(top, TopTokensOf(DraftQ(b.Context(top)), 1)[0], DraftDistribution::OneHot());
  const int32_t n = b.Add(-1, SampleFrom(q0, gen), DraftDistribution::Dense(DenseOf(q0)));
  const Dist q1 = DraftQ(b.Context(n));
  b.Add(n, SampleFrom(q1, gen), DraftDistribution::Dense(DenseOf(q1)));
}

// 2 or 3 children of the root drawn i.i.d. from q (duplicates possible).
void BuildIidSiblings(TreeBuilder& b, std::mt19937& gen) {
  const Dist q0 = DraftQ(b.Context(-1));
  const int children = 2 + static_cast<int>(gen() % 2);
  for (int i = 0; i < children; ++i) {
    b.Add(-1, SampleFrom(q0, gen), DraftDistribution::Dense(DenseOf(q0)));
  }
}

struct TreeStats {
  std::vector<int64_t> joint = std::vector<int64_t>(kVocab * kVocab * kVocab);
  int64_t accepted = 0;
  int64_t first_child_rejected = 0;
  int64_t later_sibling_accepted = 0;
  int64_t corrections = 0;
  int64_t bonuses = 0;
};

// Checks the result against the tree and tallies what the walk did.
void Tally(const DraftTree& tree, const VerifyResult& r, TreeStats& stats) {
  ASSERT_EQ(r.emitted.size(), static_cast<size_t>(r.num_accepted) + 1);
  ASSERT_EQ(r.accepted_nodes.size(), static_cast<size_t>(r.num_accepted));
  int32_t node = -1;
  for (size_t d = 0; d < r.accepted_nodes.size(); ++d) {
    const int32_t next = r.accepted_nodes[d];
    ASSERT_EQ(tree.parents[next], node);
    ASSERT_EQ(r.emitted[d].token, tree.tokens[next]);
    const int32_t first_child = static_cast<int32_t>(
        std::find(tree.parents.begin(), tree.parents.end(), node) - tree.parents.begin());
    if (next != first_child) {
      ++stats.first_child_rejected;
      ++stats.later_sibling_accepted;
    }
    node = next;
  }
  stats.accepted += r.num_accepted;
  if (std::find(tree.parents.begin(), tree.parents.end(), node) != tree.parents.end()) {
    ++stats.first_child_rejected;
    ++stats.corrections;
  } else {
    ++stats.bonuses;
  }
}

TreeStats SimulateTreeDecoding(int trials) {
  TreeStats stats;
  for (int trial = 0; trial < trials; ++trial) {
    std::mt19937 draft_gen(1000003u * trial + 7);
    const Rng rng(trial);
    std::vector<int64_t> history;
    for (int round = 0; history.size() < static_cast<size_t>(kLength); ++round) {
      TreeBuilder b(history);
      switch (static_cast<Shape>((trial + round) % 3)) {
        case Shape::kChainWithAlternatives: BuildChainWithAlternatives(b, draft_gen); break;
        case Shape::kAlternativeFirst: BuildAlternativeFirst(b, draft_gen); break;
        case Shape::kIidSiblings: BuildIidSiblings(b, draft_gen); break;
      }
      auto r = VerifyTree(b.TargetRows(), b.tree(), VerifyOptions{}, rng,
                          static_cast<int64_t>(history.size()));
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return stats;
      Tally(b.tree(), *r, stats);
      if (::testing::Test::HasFatalFailure()) return stats;
      for (const StepResult& s : r->emitted) history.push_back(s.token);
    }
    ++stats.joint[(history[0] * kVocab + history[1]) * kVocab + history[2]];
  }
  return stats;
}

const int kTreeTrials = tandem::testing::StatRounds(50000);

TEST(TreeExactnessTest, DecodingWithTreesEmitsTheTargetJointDistribution) {
  const TreeStats stats = SimulateTreeDecoding(kTreeTrials);
  const GoodnessOfFit fit = ChiSquareTest(stats.joint, ExactJoint());
  std::cerr << "positive run: " << fit.ToString() << " accepted=" << stats.accepted
            << " first_child_rejected=" << stats.first_child_rejected
            << " later_sibling_accepted=" << stats.later_sibling_accepted
            << " corrections=" << stats.corrections << " bonuses=" << stats.bonuses << "\n";
  EXPECT_GT(fit.p_value, kSignificance) << fit.ToString();
  EXPECT_EQ(fit.impossible, 0);
  // Every branch of the walk was taken, many times.
  EXPECT_GT(stats.accepted, kTreeTrials / 4);
  EXPECT_GT(stats.first_child_rejected, kTreeTrials / 10);
  EXPECT_GT(stats.later_sibling_accepted, kTreeTrials / 20);
  EXPECT_GT(stats.corrections, kTreeTrials / 20);
  EXPECT_GT(stats.bonuses, kTreeTrials / 20);
}

// Negative controls: the same loop and the same statistic reject each bug.
class PlantedTreeBugTest : public ::testing::TestWithParam<VerifierFault> {};

TEST_P(PlantedTreeBugTest, TheHarnessRejectsAVerifierWithAPlantedBug) {
  TreeStats stats;
  {
    testing::ScopedPlantedVerifierBug bug(GetParam());
    stats = SimulateTreeDecoding(kTreeTrials);
  }
  const GoodnessOfFit fit = ChiSquareTest(stats.joint, ExactJoint());
  std::cerr << "fault " << static_cast<int>(GetParam()) << ": " << fit.ToString() << "\n";
  EXPECT_LT(fit.p_value, kSignificance) << fit.ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Faults, PlantedTreeBugTest,
    ::testing::Values(VerifierFault::kInvertedAcceptRatio, VerifierFault::kResidualWithoutClamp,
                      VerifierFault::kSiblingWithoutResidual),
    [](const ::testing::TestParamInfo<VerifierFault>& info) {
      switch (info.param) {
        case VerifierFault::kInvertedAcceptRatio: return std::string("inverted_accept_ratio");
        case VerifierFault::kResidualWithoutClamp: return std::string("residual_without_clamp");
        default: return std::string("sibling_without_residual");
      }
    });

// ---------------------------------------------------------------------------
// ProcessTreePositions: each row is processed with its own path's history.

TEST(ProcessTreePositionsTest, EachRowSeesThePrefixAndItsOwnPath) {
  SamplingParams params;
  params.repetition_penalty = 1.8;
  params.temperature = 0.9;
  auto selector = TokenSelector::Create(params);
  ASSERT_TRUE(selector.ok());
  std::mt19937_64 gen(13);
  const int vocab = 8;
  //   root ─ n0:1 ─ n2:4 ─ n4:1
  //        └ n1:2 └ n3:6
  const std::vector<int64_t> tokens = {1, 2, 4, 6, 1};
  const std::vector<int32_t> parents = {-1, -1, 0, 0, 2};
  const std::vector<std::vector<int64_t>> paths = {{1}, {2}, {1, 4}, {1, 6}, {1, 4, 1}};
  std::vector<Dist> raw_rows;
  for (int r = 0; r < 6; ++r) raw_rows.push_back(RandomDist(gen, vocab, 1.0));
  const at::Tensor raw = ToLogits(raw_rows);
  const std::vector<int64_t> prefix_tokens = {3, 5, 3};
  const TokenHistory prefix{prefix_tokens, 1};

  auto rows = ProcessTreePositions(**selector, prefix, tokens, parents, raw);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(0), 6);
  for (int r = 0; r < 6; ++r) {
    std::vector<int64_t> history = prefix_tokens;
    if (r > 0) history.insert(history.end(), paths[r - 1].begin(), paths[r - 1].end());
    const std::vector<TokenHistory> h = {{history, 1}};
    auto expected = (*selector)->Process(h, raw.narrow(0, r, 1));
    ASSERT_TRUE(expected.ok());
    EXPECT_TRUE(at::equal((*rows)[r], (*expected)[0])) << "row " << r;
    // The path matters: processed with the prefix alone, the row differs.
    if (r > 0) {
      const std::vector<TokenHistory> prefix_only = {prefix};
      auto without_path = (*selector)->Process(prefix_only, raw.narrow(0, r, 1));
      ASSERT_TRUE(without_path.ok());
      EXPECT_FALSE(at::equal((*rows)[r], (*without_path)[0])) << "row " << r;
    }
  }
}

TEST(ProcessTreePositionsTest, RejectsMalformedTrees) {
  auto selector = TokenSelector::Create(SamplingParams{});
  ASSERT_TRUE(selector.ok());
  const TokenHistory prefix;
  EXPECT_THAT(ProcessTreePositions(**selector, prefix, {1, 2}, {-1, 1}, at::zeros({3, 4}))
                  .status().message(),
              HasSubstr("tree.parents[1] is 1"));
  EXPECT_THAT(ProcessTreePositions(**selector, prefix, {1, 2}, {-1}, at::zeros({3, 4}))
                  .status().message(),
              HasSubstr("tree.parents has 1 entries for 2 tree.tokens"));
  EXPECT_THAT(ProcessTreePositions(**selector, prefix, {1, 2}, {-1, 0}, at::zeros({2, 4}))
                  .status().message(),
              HasSubstr("shape [3, vocab]"));
}

// ---------------------------------------------------------------------------
// Validation.

TEST(VerifyTreeErrorsTest, RejectsMalformedInput) {
  const Dist p(8, 0.125);
  const at::Tensor three_rows = ToLogits({p, p, p});
  const auto none = DraftDistribution::None();
  auto error = [](const absl::StatusOr<VerifyResult>& r) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    return std::string(r.status().message());
  };
  const Rng rng(1);
  EXPECT_THAT(error(VerifyTree(three_rows, {{1, 2}, {-1}, {none, none}}, {}, rng, 0)),
              HasSubstr("tree.parents has 1 entries for 2 tree.tokens"));
  EXPECT_THAT(error(VerifyTree(three_rows, {{1, 2}, {-1, 1}, {none, none}}, {}, rng, 0)),
              HasSubstr("tree.parents[1] is 1"));
  EXPECT_THAT(error(VerifyTree(three_rows, {{1, 2}, {-2, 0}, {none, none}}, {}, rng, 0)),
              HasSubstr("tree.parents[0] is -2"));
  EXPECT_THAT(error(VerifyTree(three_rows, {{1, 8}, {-1, 0}, {none, none}}, {}, rng, 0)),
              HasSubstr("tree.tokens[1] is 8, outside the vocabulary [0, 8)"));
  EXPECT_THAT(error(VerifyTree(three_rows, {{1, -1}, {-1, 0}, {none, none}}, {}, rng, 0)),
              HasSubstr("tree.tokens[1] is -1"));
  EXPECT_THAT(error(VerifyTree(three_rows, {{1, 2}, {-1, 0}, {}}, {}, rng, 0)),
              HasSubstr("tree.dists has 0 entries for 2 tree.tokens"));
  EXPECT_THAT(error(VerifyTree(three_rows, {{1, 2}, {-1, 0}, {none}}, {true}, rng, 0)),
              HasSubstr("tree.dists has 1 entries"));
  EXPECT_THAT(error(VerifyTree(ToLogits({p, p}), {{1, 2}, {-1, 0}, {none, none}}, {}, rng, 0)),
              HasSubstr("shape [3, vocab] for a tree of 2 nodes"));
  EXPECT_THAT(error(VerifyTree(at::Tensor(), {}, {}, rng, 0)), HasSubstr("shape [1, vocab]"));
  // A drafted token its own distribution gives no mass.
  EXPECT_THAT(error(VerifyTree(three_rows,
                               {{1, 2}, {-1, -1}, {DraftDistribution::Sparse({0}, {1.0f}), none}},
                               {}, rng, 0)),
              HasSubstr("tree.dists[0]"));
  // Malformed q: sparse ids outside the vocabulary, dense of the wrong size.
  error(VerifyTree(three_rows,
                   {{1, 2}, {-1, 0}, {DraftDistribution::Sparse({1, 99}, {0.5f, 0.5f}), none}},
                   {}, rng, 0));
  error(VerifyTree(three_rows, {{1, 2}, {-1, 0}, {DraftDistribution::Dense(at::ones({3})), none}},
                   {}, rng, 0));
  // Greedy ignores absent distributions.
  EXPECT_TRUE(VerifyTree(three_rows, {{1, 2}, {-1, 0}, {}}, {true}, rng, 0).ok());
}

}  // namespace
}  // namespace tandem::sampling
