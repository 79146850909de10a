#ifndef TANDEM_DECODING_BACKEND_BEAM_SEARCH_H_
#define TANDEM_DECODING_BACKEND_BEAM_SEARCH_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "decoding/backends.h"
#include "sampling/beam_search.h"
#include "sampling/selector.h"

namespace tandem::decoding {

struct BackendBeamSearchRequest {
  std::vector<int64_t> prompt;
  SessionOptions session;  // Penalties/constraints apply; temperature is ignored.
  // options.ends_hypothesis may end beams on stop strings (like EOS).
  sampling::BeamSearchOptions options;
  // Alternatives reported per token (StepResult::top), [0, 64].
  int top_logprobs = 0;
  // The search stops here (max_time) and returns the best it has: live beams
  // count as hypotheses, as when max_new_tokens is reached.
  absl::Time deadline = absl::InfiniteFuture();
  // Streaming (only with num_return_sequences == 1): called with tokens of
  // the returned sequence as soon as they are certain — the common prefix of
  // every live beam and every kept hypothesis — and, at the end, with the
  // rest; so it sees every token of the result once, in order.
  std::function<void(absl::Span<const sampling::StepResult> tokens)> on_final_tokens;
  // Speculative beam search (null: plain). Not owned; outlives the call.
  // Before each target pass the draft runs `draft_steps` steps of the same
  // beam search with its own scores (and draft_beams beams); every prefix it
  // keeps alive joins a token tree under the live beam it descends from, and
  // the target scores
  // all trees in one pass. The search then takes steps while every live beam
  // is a scored prefix, so the result is identical to plain beam search
  // whatever the draft proposes.
  DraftBackend* draft = nullptr;
  // [1, kMaxBeamDraftSteps]: the draft steps per pass, or with
  // adaptive_draft_steps the most; BeamDraftPolicy then chooses each pass's
  // (0 = a plain pass where the trees would not pay for their rows).
  int draft_steps = 3;
  bool adaptive_draft_steps = false;
  // Beams the draft's search keeps per step (each one a tree token): more
  // than num_beams makes it likelier that the tree holds every beam the
  // target keeps. 0 = max(num_beams, min(2·num_beams, kMaxTreeNodes)); else
  // in [num_beams, kMaxTreeNodes].
  int draft_beams = 0;
};

inline constexpr int kMaxBeamDraftSteps = 8;

struct BeamSearchSequence {
  sampling::Hypothesis hypothesis;
  // One per token: its log-probability under the processed distribution it
  // was chosen from (penalties, constraints; no temperature) and the
  // request's top_logprobs most likely alternatives there.
  std::vector<sampling::StepResult> steps;
};

struct BeamSearchResult {
  std::vector<BeamSearchSequence> sequences;  // Best first.
  bool timed_out = false;  // The deadline ended the search.
  int64_t steps = 0;          // Beam-search steps taken (positions searched).
  int64_t target_passes = 0;  // Batched target score passes they took.
  int64_t drafted_nodes = 0;  // Tree tokens the target scored beside the beams.
  // A draft failed and the search went on plain (speculative searches only).
  bool draft_fell_back = false;
  // Wall time drafting, in target passes, and forking/closing sessions.
  absl::Duration draft_time, score_time, fork_time;
};

// Beam search over a TargetBackend (in-process or a remote TargetService):
// each live beam owns a target session; every pass asks (in one ScoreAll
// call, i.e. one target pass where the backend batches) each beam's session
// for its top max(2·num_beams, top_logprobs) next tokens (Score, committing
// nothing — the global top 2·num_beams candidates are always among them, so
// a step is exact) — with a draft, also after every token of its tree —
// then forks sessions for beams that share an ancestor. All sessions (draft
// ones included) are closed before returning. Returns the best
// num_return_sequences hypotheses. InvalidArgument for options out of range
// (naming the field); a backend's error otherwise.
absl::StatusOr<BeamSearchResult> RunBackendBeamSearch(const BackendBeamSearchRequest& request,
                                                      TargetBackend& target);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_BACKEND_BEAM_SEARCH_H_
