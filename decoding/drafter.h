#ifndef TANDEM_DECODING_DRAFTER_H_
#define TANDEM_DECODING_DRAFTER_H_

// The seam between the generation loop and a drafting strategy. The loop is
// draft → verify → commit; everything strategy-specific (which model, which
// session, how tokens are found, pipelining) lives behind `Drafter`, one file
// per strategy:
//   draft_model_drafter.h  a separate draft model (DraftBackend), pipelined
//   early_exit_drafter.h   the target's first layers (self-speculation)
//   ngram_drafter.h        prompt lookup, no model
//   fallback_drafter.h     wraps another: on failure, stop drafting
// MakeDrafter (drafter.cc) is the one place that maps a SpeculationMode to a
// strategy. Adding a mode: a new drafter file, a case there, the proto enum
// and its validation (docs/architecture.md).

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "decoding/backends.h"
#include "decoding/speculation_options.h"
#include "decoding/target_session.h"

namespace tandem::decoding {

// A proposal and the time the drafting server spent on it (zero in-process
// or for model-free strategies).
struct Proposal {
  Draft draft;
  absl::Duration server_time;
};

// Counters a drafter keeps over its request (SpeculationStats copies them).
struct DrafterStats {
  int64_t pre_drafts = 0;        // Rounds drafted ahead during verification.
  int64_t pre_draft_hits = 0;    // ... whose outcome came true (draft ready).
  absl::Duration hidden_time;    // Drafting overlapped with verification.
  // The drafting server's own time over every call, pre-drafts that missed
  // included (zero in-process or for model-free strategies).
  absl::Duration server_time;
  bool fell_back = false;        // Drafting stopped after a failure.
};

// One sequence's drafting strategy. Created per request by MakeDrafter; owns
// whatever sessions it opened (the destructor closes them, after waiting for
// any drafting still in flight). Not thread-safe: one loop drives it.
class Drafter {
 public:
  virtual ~Drafter() = default;

  // Up to `gamma` (>= 1) tokens to follow `committed` (prompt + generated),
  // with the distributions they were drawn from (one-hot for deterministic
  // proposals). May return fewer, or none: the round is then a plain step.
  // An error ends the request (FallbackDrafter turns it into "no drafts").
  virtual absl::StatusOr<Proposal> Propose(const std::vector<int64_t>& committed, int gamma) = 0;

  // Called once `draft` (proposed after `committed`) has gone to the target
  // and before its verification result is known; a pipelined drafter starts
  // drafting the next round here. `next_gamma` is the γ it should expect.
  virtual void OnVerifyStarted(const std::vector<int64_t>& committed, const Draft& draft,
                               int next_gamma) {}

  // The token tree to draft from the next Propose on (strategies that draft
  // trees; the others ignore it): `alternatives` per drafted position at the
  // first `depth` positions; 0 = chains.
  virtual void SetTreeShape(int alternatives, int depth) {}

  virtual DrafterStats stats() const { return {}; }
};

// What a drafter may draw on. `draft` is null when no draft service exists.
struct DrafterDeps {
  TargetSession* target = nullptr;
  DraftBackend* draft = nullptr;
  const SessionOptions* session = nullptr;
};

// The strategy for `options.mode`; null for SpeculationMode::kOff. A
// draft-model drafter comes wrapped in a fallback drafter: if its session
// (opened by the first proposal) cannot be opened, or a later call fails,
// the request runs on target-only. FailedPrecondition for kDraftModel
// without a draft backend.
absl::StatusOr<std::unique_ptr<Drafter>> MakeDrafter(const SpeculationOptions& options,
                                                     const DrafterDeps& deps);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_DRAFTER_H_
