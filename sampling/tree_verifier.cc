#include "sampling/tree_verifier.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sampling/verifier_fault.h"

namespace tandem::sampling {
namespace {

// children[0] lists the root's children, children[1 + i] node i's, each in
// increasing index order. Row r of the target logits belongs to children[r]'s
// owner.
using Children = std::vector<std::vector<int32_t>>;

absl::Status CheckParents(absl::Span<const int64_t> tokens,
                          absl::Span<const int32_t> parents) {
  if (parents.size() != tokens.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree.parents has ", parents.size(), " entries for ",
                     tokens.size(), " tree.tokens"));
  }
  for (size_t i = 0; i < parents.size(); ++i) {
    if (parents[i] < -1 || parents[i] >= static_cast<int64_t>(i)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tree.parents[", i, "] is ", parents[i],
                       "; it must be -1 (the root) or a node in [0, ", i, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRows(const at::Tensor& logits, int64_t nodes) {
  if (!logits.defined() || logits.dim() != 2 ||
      logits.size(0) != nodes + 1 || logits.size(1) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("target logits must have shape [", nodes + 1,
                     ", vocab] for a tree of ", nodes, " nodes"));
  }
  return absl::OkStatus();
}

absl::Status CheckTree(const at::Tensor& logits, const DraftTree& tree,
                       const VerifyOptions& options) {
  const int64_t nodes = static_cast<int64_t>(tree.tokens.size());
  if (absl::Status s = CheckParents(tree.tokens, tree.parents); !s.ok()) {
    return s;
  }
  if (tree.dists.size() != tree.tokens.size() &&
      !(options.greedy && tree.dists.empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tree.dists has ", tree.dists.size(), " entries for ", nodes,
        " tree.tokens (it may be empty only for greedy verification)"));
  }
  if (absl::Status s = CheckRows(logits, nodes); !s.ok()) return s;
  const int64_t vocab = logits.size(1);
  for (int64_t i = 0; i < nodes; ++i) {
    if (tree.tokens[i] < 0 || tree.tokens[i] >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("tree.tokens[", i, "] is ", tree.tokens[i],
                       ", outside the vocabulary [0, ", vocab, ")"));
    }
  }
  return absl::OkStatus();
}

Children ChildrenByRow(absl::Span<const int32_t> parents) {
  Children children(parents.size() + 1);
  for (size_t i = 0; i < parents.size(); ++i) {
    children[parents[i] + 1].push_back(static_cast<int32_t>(i));
  }
  return children;
}

absl::StatusOr<VerifyResult> VerifyTreeGreedy(const at::Tensor& logits,
                                              const at::Tensor& log_probs,
                                              const DraftTree& tree,
                                              const Children& children,
                                              int top_n) {
  VerifyResult result;
  int64_t row = 0;
  while (true) {
    absl::StatusOr<int64_t> best = ArgmaxToken(logits.select(0, row));
    if (!best.ok()) return best.status();
    result.emitted.push_back(
        DescribeToken(log_probs.select(0, row), *best, top_n));
    int32_t next = -1;
    for (int32_t child : children[row]) {
      if (tree.tokens[child] == *best) {
        next = child;
        break;
      }
    }
    if (next < 0) return result;
    result.accepted_nodes.push_back(next);
    ++result.num_accepted;
    row = next + 1;
  }
}

// p(tokens[i]) under node i's parent's row, for every node, in one gather and
// one device->host copy (the first child's test needs nothing else).
std::vector<double> ProbUnderParentRow(const at::Tensor& probs,
                                       const DraftTree& tree) {
  const int64_t nodes = static_cast<int64_t>(tree.tokens.size());
  std::vector<double> out(nodes);
  if (nodes == 0) return out;
  const int64_t vocab = probs.size(1);
  at::Tensor flat_ids = at::empty({nodes}, at::kLong);
  int64_t* ids = flat_ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < nodes; ++i) {
    ids[i] = (tree.parents[i] + 1) * vocab + tree.tokens[i];
  }
  at::Tensor gathered = probs.reshape({-1})
                            .index_select(0, flat_ids.to(probs.device()))
                            .to(at::kCPU, at::kDouble)
                            .contiguous();
  std::copy_n(gathered.data_ptr<double>(), nodes, out.begin());
  return out;
}

// What one sampled verification of the whole tree reads.
struct Walk {
  at::Tensor log_probs;  // [N+1, V], processed, unresidualized
  at::Tensor probs;      // exp(log_probs)
  const DraftTree& tree;
  Children children;
  std::vector<double> p_under_parent;
  const Rng& rng;
  internal::VerifierFault fault;
};

// The distribution a node's next sibling is tested against: the node's row
// until a rejection, then the residual weights (mass `mass`).
struct Working {
  at::Tensor weights;
  double mass = 1.0;
  bool is_row = true;
};

// After rejecting `child`: norm(max(0, p - q)) as unnormalized weights. A
// residual that is no distribution (no mass; negative weights under the
// planted kResidualWithoutClamp) is replaced by the row itself, as
// VerifyDraft's correction falls back to p_i.
Working Residual(const Walk& walk, const Working& current, int64_t row,
                 int32_t child) {
  const at::Tensor p =
      current.is_row ? current.weights : current.weights / current.mass;
  at::Tensor residual =
      p - DraftDense(walk.tree.dists[child], walk.tree.tokens[child],
                     p.size(0), p.device());
  if (walk.fault != internal::VerifierFault::kResidualWithoutClamp) {
    residual = residual.clamp_min(0.0);
  }
  at::Tensor stats =
      at::stack({residual.min(), residual.sum()}).to(at::kCPU, at::kDouble);
  const double min = stats[0].item<double>();
  const double mass = stats[1].item<double>();
  if (!(min >= 0.0) || !(mass > 0.0) || std::isinf(mass)) {
    return {walk.probs.select(0, row), 1.0, true};
  }
  return {residual, mass, false};
}

// The k-th child's accept test at `position`.
absl::StatusOr<bool> AcceptChild(const Walk& walk, const Working& current,
                                 int32_t child, uint32_t k, int64_t position) {
  const int64_t x = walk.tree.tokens[child];
  absl::StatusOr<double> q = DraftProbability(
      walk.tree.dists[child], x, x, walk.probs.size(1));
  if (!q.ok()) return q.status();
  if (!(*q > 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tree node ", child, " (token ", x,
        ") has zero probability under tree.dists[", child, "]"));
  }
  const double p =
      current.is_row ||
              walk.fault == internal::VerifierFault::kSiblingWithoutResidual
          ? walk.p_under_parent[child]
          : current.weights[x].item<double>() / current.mass;
  const double ratio =
      walk.fault == internal::VerifierFault::kInvertedAcceptRatio ? *q / p
                                                                  : p / *q;
  return walk.rng.Uniform(position, RandomPurpose::kAccept, k) < ratio;
}

// Tries the children of the node owning `row` (at least one) in order.
// Returns the accepted child, or -1 and the correction drawn from what the
// rejected siblings left of the row.
struct NodeOutcome {
  int32_t accepted = -1;
  int64_t correction = -1;
};

absl::StatusOr<NodeOutcome> VerifyChildren(const Walk& walk, int64_t row,
                                           int64_t position) {
  Working current{walk.probs.select(0, row), 1.0, true};
  const std::vector<int32_t>& children = walk.children[row];
  for (size_t k = 0; k < children.size(); ++k) {
    absl::StatusOr<bool> accepted = AcceptChild(
        walk, current, children[k], static_cast<uint32_t>(k), position);
    if (!accepted.ok()) return accepted.status();
    if (*accepted) return NodeOutcome{children[k], -1};
    current = Residual(walk, current, row, children[k]);
  }
  absl::StatusOr<int64_t> token = SampleToken(current.weights, walk.rng,
                                              position, RandomPurpose::kResidual);
  if (!token.ok()) {
    token = SampleToken(walk.probs.select(0, row), walk.rng, position,
                        RandomPurpose::kResidual);
    if (!token.ok()) return token.status();
  }
  return NodeOutcome{-1, *token};
}

absl::StatusOr<VerifyResult> VerifyTreeSampled(const Walk& walk, int top_n,
                                               int64_t first_position) {
  VerifyResult result;
  int64_t row = 0;
  for (int64_t position = first_position;; ++position) {
    const at::Tensor log_probs = walk.log_probs.select(0, row);
    if (walk.children[row].empty()) {
      absl::StatusOr<int64_t> bonus = SampleToken(
          walk.probs.select(0, row), walk.rng, position, RandomPurpose::kSample);
      if (!bonus.ok()) return bonus.status();
      result.emitted.push_back(DescribeToken(log_probs, *bonus, top_n));
      return result;
    }
    absl::StatusOr<NodeOutcome> outcome = VerifyChildren(walk, row, position);
    if (!outcome.ok()) return outcome.status();
    if (outcome->accepted < 0) {
      result.emitted.push_back(
          DescribeToken(log_probs, outcome->correction, top_n));
      return result;
    }
    result.emitted.push_back(DescribeToken(
        log_probs, walk.tree.tokens[outcome->accepted], top_n));
    result.accepted_nodes.push_back(outcome->accepted);
    ++result.num_accepted;
    row = outcome->accepted + 1;
  }
}

}  // namespace

absl::StatusOr<VerifyResult> VerifyTree(const at::Tensor& target_logits,
                                        const DraftTree& tree,
                                        const VerifyOptions& options,
                                        const Rng& rng, int64_t first_position) {
  if (absl::Status s = CheckTree(target_logits, tree, options); !s.ok()) {
    return s;
  }
  at::Tensor logits = target_logits.to(at::kFloat);
  at::Tensor log_probs = logits.log_softmax(-1);
  Children children = ChildrenByRow(tree.parents);
  if (options.greedy) {
    return VerifyTreeGreedy(logits, log_probs, tree, children, options.top_n);
  }
  at::Tensor probs = log_probs.exp();
  std::vector<double> p_under_parent = ProbUnderParentRow(probs, tree);
  // Kept kNone outside negative-control tests (verifier_fault.h).
  const Walk walk{log_probs,         probs, tree, std::move(children),
                  std::move(p_under_parent), rng,
                  internal::CurrentVerifierFault()};
  return VerifyTreeSampled(walk, options.top_n, first_position);
}

absl::StatusOr<at::Tensor> ProcessTreePositions(
    const TokenSelector& selector, const TokenHistory& prefix,
    absl::Span<const int64_t> tokens, absl::Span<const int32_t> parents,
    const at::Tensor& raw_logits) {
  if (absl::Status s = CheckParents(tokens, parents); !s.ok()) return s;
  const int64_t nodes = static_cast<int64_t>(tokens.size());
  if (absl::Status s = CheckRows(raw_logits, nodes); !s.ok()) return s;
  // paths[r]: the full history of row r (prefix, then root..node r-1).
  std::vector<std::vector<int64_t>> paths(nodes + 1);
  paths[0].assign(prefix.tokens.begin(), prefix.tokens.end());
  for (int64_t i = 0; i < nodes; ++i) {
    paths[i + 1] = paths[parents[i] + 1];
    paths[i + 1].push_back(tokens[i]);
  }
  std::vector<TokenHistory> histories;
  histories.reserve(paths.size());
  for (const std::vector<int64_t>& path : paths) {
    histories.push_back({path, prefix.prompt_length});
  }
  return selector.Process(histories, raw_logits);
}

}  // namespace tandem::sampling
