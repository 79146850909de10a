#ifndef TANDEM_SAMPLING_TREE_VERIFIER_H_
#define TANDEM_SAMPLING_TREE_VERIFIER_H_

// Lossless verification of a tree of drafted tokens in one target pass
// (SpecInfer, Miao et al. 2024: multi-candidate / recursive rejection
// sampling). The emitted tokens are distributed exactly as the target's own
// sampling, like VerifyDraft's; a chain is verified exactly as VerifyDraft
// verifies it.

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "sampling/draft_distribution.h"
#include "sampling/rng.h"
#include "sampling/selector.h"
#include "sampling/speculative_verifier.h"

namespace tandem::sampling {

// A tree of drafted tokens hanging off the committed prefix. Node i holds
// tokens[i]; parents[i] is -1 (a child of the root = the position right after
// the committed prefix) or a node index < i. Children of a node are tried in
// increasing index order. dists[i] is the distribution node i's token was
// drawn from: one-hot (kOneHot/kNone) for deterministic proposals (e.g. the
// draft's top-k alternatives), or the sparse/dense q it was sampled from.
// For exactness each child must be drawn independently of its earlier
// siblings' accept/reject outcomes (i.i.d. samples from q, or fixed tokens);
// it may depend on their tokens. Siblings may repeat a token.
struct DraftTree {
  std::vector<int64_t> tokens;
  std::vector<int32_t> parents;
  std::vector<DraftDistribution> dists;
};

// Verifies `tree` (N nodes) against the target.
//  * target_logits: PROCESSED target logits [N+1, V] (float32, any device):
//    row 0 is the distribution after the prefix (the root), row 1+i the one
//    after prefix + the tokens on the path root..node i. See
//    ProcessTreePositions.
//  * tree.dists: ignored (may be empty) when options.greedy.
// Sampling: start at the root with p = its row, depth 0. The k-th child c of
// the current node is accepted with probability min(1, p(c) / q_c(c)), using
// rng.Uniform(first_position + depth, kAccept, k); on acceptance its token is
// emitted and the walk moves to c (p = c's row, depth + 1); on rejection
// p <- norm(max(0, p - q_c)) and the next sibling is tried. When every child
// is rejected a correction is drawn from that residual p (kResidual, at
// first_position + depth); at a node without children (a leaf, or the root of
// an empty tree) a bonus token is drawn from p (kSample). A residual with no
// mass (p <= q_c everywhere, a rejection of probability ~0) is replaced by the
// node's own row, as VerifyDraft does. Greedy: the child whose token is the
// row's argmax is accepted (the first such child); otherwise, and at a leaf,
// the argmax is emitted and the walk stops; no randomness is used.
// Emits num_accepted + 1 tokens; each carries its probability (and top_n
// alternatives) under the processed, unresidualized row it was chosen at.
// result.accepted_nodes lists the accepted nodes root to leaf.
// InvalidArgument (naming the field and index) when tokens/parents/dists
// sizes disagree, parents[i] is outside [-1, i), a token is outside [0, V),
// the logits are not [N+1, V], a q is malformed or gives its own token zero
// mass, or a target row has no selectable token.
absl::StatusOr<VerifyResult> VerifyTree(const at::Tensor& target_logits,
                                        const DraftTree& tree,
                                        const VerifyOptions& options,
                                        const Rng& rng, int64_t first_position);

// Processes raw target logits [N+1, V] for tree verification: row 0 with
// history `prefix`, row 1+i with history prefix + the tokens on the path
// root..node i (inclusive), exactly as target-only decoding would process that
// position. InvalidArgument when tokens and parents disagree in size, a parent
// is outside [-1, i), or the logits are not [N+1, V].
absl::StatusOr<at::Tensor> ProcessTreePositions(
    const TokenSelector& selector, const TokenHistory& prefix,
    absl::Span<const int64_t> tokens, absl::Span<const int32_t> parents,
    const at::Tensor& raw_logits);

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_TREE_VERIFIER_H_
