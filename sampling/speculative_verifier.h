#ifndef TANDEM_SAMPLING_SPECULATIVE_VERIFIER_H_
#define TANDEM_SAMPLING_SPECULATIVE_VERIFIER_H_

// Lossless verification of drafted tokens (Leviathan et al. 2023; Chen et al.
// 2023). See docs/speculative_decoding.md for why the output is distributed
// exactly as the target's own sampling.

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "sampling/draft_distribution.h"
#include "sampling/rng.h"
#include "sampling/selector.h"

namespace tandem::sampling {

struct VerifyOptions {
  // Greedy target: accept while the draft equals the target's argmax; the
  // draft distributions are ignored and no randomness is used.
  bool greedy = false;
  // Alternatives reported with each emitted token.
  int top_n = 0;
};

struct VerifyResult {
  // Drafted tokens accepted, 0..γ.
  int num_accepted = 0;
  // num_accepted + 1 tokens: the accepted drafts, then the correction sampled
  // at the first rejection, or the bonus token when all γ were accepted. Each
  // carries its probability under the target's processed distribution.
  std::vector<StepResult> emitted;
  // The draft nodes accepted, in order from the prefix on: indices into the
  // draft (VerifyDraft: 0..num_accepted-1) or into DraftTree's nodes
  // (VerifyTree: the accepted path root to leaf). Its size is num_accepted.
  std::vector<int32_t> accepted_nodes;

  bool all_accepted(size_t draft_length) const {
    return static_cast<size_t>(num_accepted) == draft_length;
  }
};

// Verifies drafts x_1..x_γ against the target.
//  * target_logits: PROCESSED target logits [γ+1, V] (float32, any device);
//    row i is the target's distribution for the token after prefix +
//    x_1..x_i (row 0: after the prefix alone). See ProcessDraftPositions.
//  * draft_tokens: x_1..x_γ (γ >= 0).
//  * draft_dists: q_1..q_γ, each the processed draft distribution x_i was
//    drawn from; ignored (may be empty) when options.greedy.
// Sampling: x_i is accepted with probability min(1, p_i(x_i) / q_i(x_i)); at
// the first rejection a token is drawn from norm(max(0, p_i - q_i)); if all
// are accepted a bonus token is drawn from p_{γ+1}. Always emits between 1
// and γ+1 tokens. Draft token x_i sits at sequence position
// first_position + i; its accept test uses rng.Uniform(that position,
// kAccept), a correction there kResidual, and the bonus token (position
// first_position + γ) kSample, as plain decoding would. A seed therefore
// reproduces the result, and a retry of the same round (after a failover)
// makes the same decisions.
// InvalidArgument on shape mismatches, token ids outside [0, V), malformed or
// zero q_i(x_i) (a token cannot have been drawn from a distribution that gives
// it no mass), or a target row with no selectable token.
absl::StatusOr<VerifyResult> VerifyDraft(
    const at::Tensor& target_logits, absl::Span<const int64_t> draft_tokens,
    absl::Span<const DraftDistribution> draft_dists,
    const VerifyOptions& options, const Rng& rng, int64_t first_position);

// Processes the target's raw logits [γ+1, V] for verification: row i is
// processed with history `prefix` + x_1..x_i, exactly as target-only decoding
// would process that position, so history-dependent processors (penalties,
// n-gram bans, min_new_tokens) see the drafted tokens too.
absl::StatusOr<at::Tensor> ProcessDraftPositions(
    const TokenSelector& selector, const TokenHistory& prefix,
    absl::Span<const int64_t> draft_tokens, const at::Tensor& raw_logits);

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_SPECULATIVE_VERIFIER_H_
