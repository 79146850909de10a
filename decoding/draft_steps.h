#ifndef TANDEM_DECODING_DRAFT_STEPS_H_
#define TANDEM_DECODING_DRAFT_STEPS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "decoding/engine_session.h"
#include "model/model.h"
#include "sampling/draft_distribution.h"

namespace tandem::decoding {

// A draft of γ tokens with the distributions they were drawn from: a chain,
// or a token tree (sampling/tree_verifier.h) when `parents` is set.
struct Draft {
  std::vector<int64_t> tokens;
  std::vector<sampling::DraftDistribution> dists;
  // Empty: tokens[i + 1] follows tokens[i]. Else one entry per token: its
  // parent token's index, or -1 for a child of the committed sequence; each
  // < its own index. Drafters put the main chain first (parents -1, 0, 1,
  // ...) and alternatives after it.
  std::vector<int32_t> parents;
  // With DraftJob::top_logprobs > 0: one entry per chain token, the draft's
  // most likely tokens at its position with their log-probabilities under
  // the session's processors (a greedy session's: penalties and constraints
  // only), best first — what speculative beam search drafts from.
  std::vector<std::vector<sampling::TokenLogprob>> candidates;

  bool is_tree() const { return !parents.empty(); }
  // The leading tokens that form one chain (all of them for a chain).
  size_t chain_length() const;
  // The leading chain alone.
  std::vector<int64_t> chain() const;
  // The sub-draft that follows the chain's first `skip` tokens: chain tokens
  // [skip, skip + take) and the alternatives hanging off them, re-indexed
  // (alternatives of chain token skip become children of the root).
  Draft Slice(size_t skip, size_t take) const;
};

struct DraftJob {
  EngineSession* session = nullptr;
  std::vector<int64_t> feed;  // Catch-up tokens, then the pending token.
  int gamma = 0;              // Tokens to draft, >= 0.
  int64_t exit_layer = 0;     // 0: all layers (a draft model); else early exit.
  sampling::Rng* rng = nullptr;  // The session's; drafts draw under kDraft.
  bool greedy_first = false;     // Step 0 takes the argmax even when sampling.
  // Token tree: at each of the first `tree_depth` drafted positions (the
  // guess of greedy_first not counted), also propose up to
  // `tree_alternatives` other likely tokens as siblings of the drafted one
  // (leaves, one-hot: deterministic proposals): the most likely tokens other
  // than the drafted one, greedy or sampling (exact either way:
  // sampling/tree_verifier.h, docs/speculative_decoding.md).
  int tree_alternatives = 0;
  int tree_depth = 0;
  // Also report the top_logprobs most likely tokens at each chain position
  // (Draft::candidates), >= 0.
  int top_logprobs = 0;
};

struct DraftOutcome {
  absl::Status status;
  Draft draft;
};

// Drafts for several sessions at once: step j runs one batched Model::Forward
// over every job still drafting (step 0 feeds `feed`, later steps the token
// drafted before), then picks each job's next token with its session's
// processors on history committed + drafts so far: argmax with a one-hot
// distribution when greedy (or at step 0 with greedy_first), else a sample
// from exp(log_softmax) with exactly those probabilities packed (sparse or
// dense) for the verifier. The last drafted token is not run through the
// model. Alternatives (DraftJob::tree_alternatives) come after the chain in
// the returned draft, with `parents` set.
std::vector<DraftOutcome> RunDraftSteps(model::Model& model,
                                        std::vector<DraftJob>& jobs);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_DRAFT_STEPS_H_
