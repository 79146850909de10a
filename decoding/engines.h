#ifndef TANDEM_DECODING_ENGINES_H_
#define TANDEM_DECODING_ENGINES_H_

// The two stateful engines behind the draft and target services (and the
// in-process decoder). Both are thread-compatible: a server funnels calls from
// many requests through one batching thread, so one call carries the work of
// many sessions and runs as few batched Model::Forward passes as possible.

#include <cstdint>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "decoding/draft_steps.h"
#include "decoding/session_table.h"
#include "decoding/step_cost_model.h"
#include "sampling/speculative_verifier.h"

namespace tandem::decoding {

struct VerifyItem {
  SessionId session = 0;
  SequenceSync sync;
  // γ >= 0 tokens; γ = 0 is a plain decode step. A tree (draft.parents) of
  // at most kMaxTreeNodes tokens is verified in the same one pass.
  Draft draft;
  // A scheduling hint (StepRowBudget; the engine ignores it): prompt
  // positions this item's session still has to run first, when its open left
  // the prompt's last chunk to its first step.
  int64_t catch_up_rows = 0;
};

// The most tokens a drafted tree may hold (it costs one target row each).
inline constexpr int kMaxTreeNodes = 16;
// The most alternatives a drafted position may add (ProposeItem).
inline constexpr int kMaxTreeAlternatives = 3;
// A tree of `proposals` drafted tokens with `alternatives` extra candidates
// at each of its first `depth` positions: InvalidArgument naming the field
// unless alternatives is in [0, kMaxTreeAlternatives], depth in
// [0, max(proposals, 0)] and the tree holds at most kMaxTreeNodes tokens.
absl::Status CheckTreeRequest(int64_t proposals, int64_t alternatives, int64_t depth);

struct VerifyOutcome {
  absl::Status status;
  sampling::VerifyResult result;
  int64_t committed_length = 0;  // The session's committed tokens afterwards.
  // The load signal (step_cost_model.h): seconds that j = 1..kMarginalRows
  // rows of this session cost in a step with the step's other rows, as the
  // engine has measured its steps, weighted by how busy the engine is
  // (busy · cost beside the others + idle · cost alone). Empty before the
  // engine has timed a step.
  std::vector<float> marginal_seconds;
  // How much of the engine's time other sessions fill, in [0, 1]: the share
  // of recent wall time spent in steps (BusyFraction) times other sessions'
  // share of the recent steps' rows (RowShare: within this step and in the
  // steps before it). 0 when unknown — and for a lone session, however busy
  // it keeps the engine itself.
  float others_busy = 0;
};

// Rows the load signal covers (a draft of up to 8 tokens plus its pending
// token); callers extrapolate beyond.
inline constexpr int kMarginalRows = 9;

struct EarlyExitItem {
  SessionId session = 0;
  SequenceSync sync;
  int gamma = 0;
  int64_t exit_layer = 0;  // 0: the model's default early-exit layer.
};

struct ScoreItem {
  SessionId session = 0;
  SequenceSync sync;
  int top_n = 1;  // Candidates to return, >= 1.
  // Speculative beam search: a tree of at most kMaxTreeNodes tokens after the
  // synced sequence (tokens + parents as Draft; dists unused; parents may be
  // empty for a chain), scored in the same pass. Nothing of it is committed.
  Draft tree;
  int64_t catch_up_rows = 0;  // As VerifyItem::catch_up_rows.
};

// What a score item returns.
struct Scores {
  // The top_n next tokens with their log-probabilities under the session's
  // processors (penalties, constraints; no temperature), best first.
  std::vector<sampling::TokenLogprob> candidates;
  // With a tree: entry i holds the same for the sequence followed by the
  // path root..tree token i (each position processed with its own history,
  // exactly as a plain Score of that sequence would).
  std::vector<std::vector<sampling::TokenLogprob>> node_candidates;
};

struct ScoreOutcome : Scores {
  absl::Status status;
};

// The next chunk of a registered session's prompt (TargetEngine::Register,
// DraftEngine::Register).
struct PrefillItem {
  SessionId session = 0;
  int64_t max_tokens = 0;  // Positions to run at most (>= 1).
};

struct PrefillOutcome {
  absl::Status status;
  int64_t remaining = 0;  // Prompt positions still to run; 0 = ready.
};

// One unit of work in a target step: a verify (or plain decode) item, a
// prefill chunk, or a beam-search score. Step runs all of them in one forward
// pass; the outcome at index i has the kind of item i.
using StepItem = std::variant<VerifyItem, PrefillItem, ScoreItem>;
using StepOutcome = std::variant<VerifyOutcome, PrefillOutcome, ScoreOutcome>;

struct ProposeItem {
  SessionId session = 0;
  SequenceSync sync;
  int gamma = 0;
  // The first token is a guess, not a proposal (pipelined drafting guesses
  // the target's bonus token): take the draft's most likely token even when
  // sampling. Its distribution is then one-hot and must not be verified.
  bool guess_first = false;
  // Token tree: DraftJob::tree_alternatives / tree_depth.
  int tree_alternatives = 0;
  int tree_depth = 0;
  // Also return the draft's top_logprobs most likely tokens at each drafted
  // position (Draft::candidates), in [0, kMaxProposeTopLogprobs].
  int top_logprobs = 0;
};

inline constexpr int kMaxProposeTopLogprobs = 64;

// Verifies drafts (and decodes plain steps) with the target model.
class TargetEngine {
 public:
  TargetEngine(model::Model& model, int64_t max_sessions, PrefixCache::Options prefix = {})
      : sessions_(model, max_sessions, prefix) {}

  absl::StatusOr<SessionId> Open(std::vector<int64_t> prompt,
                                 const SessionOptions& options) {
    return sessions_.Open(std::move(prompt), options);
  }
  // As Open without running the model: the prompt is then run in chunks by
  // Step / Prefill (or by the session's first Verify / Score catch-up), so a
  // long prompt never holds the engine for its whole prefill.
  absl::StatusOr<SessionId> Register(std::vector<int64_t> prompt,
                                     const SessionOptions& options) {
    return sessions_.Register(std::move(prompt), options);
  }
  absl::Status Close(SessionId id) { return sessions_.Close(id); }
  int64_t num_sessions() const { return sessions_.size(); }
  const model::ModelInfo& info() { return sessions_.model().info(); }
  const PrefixCache& prefix_cache() const { return sessions_.prefix_cache(); }

  // Verify items, score items and prefill chunks of any sessions in ONE
  // forward pass: each verify / score item as Verify / Score below; each
  // prefill item runs the next max_tokens uncached positions of its session's
  // prompt (all but the pending last token). Outcomes match items by index
  // and kind. A session may appear once per step (FailedPrecondition for a
  // repeat).
  std::vector<StepOutcome> Step(absl::Span<const StepItem> items);

  // Step over prefill items only.
  std::vector<PrefillOutcome> Prefill(absl::Span<const PrefillItem> items);

  // For each item: apply the sync, run ONE batched forward over
  // [catch-up..., pending, x1..xγ] for all items, verify with lossless
  // rejection sampling, commit the accepted drafts plus the correction/bonus
  // token, and roll the cache back to the committed length. A tree draft
  // runs as a tree in the same pass (Model tree_parents), is verified by
  // sampling::VerifyTree, and only its accepted path's KV is kept. Per-item errors
  // (NotFound, FailedPrecondition, InvalidArgument, OutOfRange) come back in
  // the outcome; a model failure fails every item of the call.
  std::vector<VerifyOutcome> Verify(absl::Span<const VerifyItem> items);

  // Self-speculative drafting with the first exit_layer layers of the target,
  // sharing their KV cache with later full passes. Drafts are not committed.
  std::vector<DraftOutcome> DraftEarlyExit(absl::Span<const EarlyExitItem> items);

  // Beam search support: the top next-token candidates after the synced
  // sequence, committing nothing (the caller appends its choice with the next
  // sync). Step over score items only.
  std::vector<ScoreOutcome> Score(absl::Span<const ScoreItem> items);

  // A new session holding the first `length` committed tokens of `source`
  // (its KV cache copied, not recomputed). NotFound / InvalidArgument.
  absl::StatusOr<SessionId> Fork(SessionId source, int64_t length) {
    return sessions_.Fork(source, length);
  }

 private:
  struct Job;
  // Checks an item and sets the rows it runs in `job`; false when the item's
  // outcome is already final (an error, or nothing left to prefill).
  bool Prepare(const VerifyItem& item, Job& job, VerifyOutcome& out);
  bool Prepare(const PrefillItem& item, Job& job, PrefillOutcome& out);
  bool Prepare(const ScoreItem& item, Job& job, ScoreOutcome& out);
  // Consumes the item's logits from the step's forward pass.
  void Finish(const VerifyItem& item, Job& job, const at::Tensor& logits, VerifyOutcome& out);
  void Finish(const PrefillItem& item, Job& job, const at::Tensor& logits, PrefillOutcome& out);
  void Finish(const ScoreItem& item, Job& job, const at::Tensor& logits, ScoreOutcome& out);

  SessionTable sessions_;
  StepCostModel step_cost_;
  BusyFraction busy_;
  RowShare row_share_;
};

// Proposes drafts with a (small) draft model.
class DraftEngine {
 public:
  DraftEngine(model::Model& model, int64_t max_sessions, PrefixCache::Options prefix = {})
      : sessions_(model, max_sessions, prefix) {}

  absl::StatusOr<SessionId> Open(std::vector<int64_t> prompt,
                                 const SessionOptions& options) {
    return sessions_.Open(std::move(prompt), options);
  }
  // As TargetEngine::Register: the prompt is then run in chunks by Prefill
  // (or by the session's first Propose catch-up), so a long prompt never
  // holds the engine for its whole prefill.
  absl::StatusOr<SessionId> Register(std::vector<int64_t> prompt,
                                     const SessionOptions& options) {
    return sessions_.Register(std::move(prompt), options);
  }
  absl::Status Close(SessionId id) { return sessions_.Close(id); }
  int64_t num_sessions() const { return sessions_.size(); }
  const model::ModelInfo& info() { return sessions_.model().info(); }
  const PrefixCache& prefix_cache() const { return sessions_.prefix_cache(); }

  // Each item runs the next max_tokens uncached positions of its session's
  // prompt (all but the pending last token), all items in one forward. A
  // session may appear once (FailedPrecondition for a repeat).
  std::vector<PrefillOutcome> Prefill(absl::Span<const PrefillItem> items);

  // For each item: apply the sync (rolling the cache back past rejected
  // drafts), then draft γ tokens; step j of all items runs as one batch.
  std::vector<DraftOutcome> Propose(absl::Span<const ProposeItem> items);

  // As TargetEngine::Fork.
  absl::StatusOr<SessionId> Fork(SessionId source, int64_t length) {
    return sessions_.Fork(source, length);
  }

 private:
  SessionTable sessions_;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_ENGINES_H_
