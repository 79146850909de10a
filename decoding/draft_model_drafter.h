#ifndef TANDEM_DECODING_DRAFT_MODEL_DRAFTER_H_
#define TANDEM_DECODING_DRAFT_MODEL_DRAFTER_H_

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "decoding/drafter.h"

namespace tandem::decoding {

// Drafts with a separate draft model over a DraftBackend (in-process or the
// draft service), on one session opened for the request — lazily, by the
// first Propose, with everything committed by then: a request whose draft
// length policy never drafts (a saturated target) costs the draft service
// nothing. A failed open is that Propose's error (FallbackDrafter turns it
// into target-only decoding).
//
// Pipelined (the default): when a draft goes to the target, this drafter
// immediately asks the draft model, on another thread, for the round after
// it under the most likely outcome: every drafted token accepted and the
// target's bonus token equal to the draft's most likely next token g (its
// argmax, also when sampling: g is a guess, never proposed). It drafts
// next_gamma + 1 tokens [g, x1, x2, ...] after committed + draft. If the
// verification does commit draft + [g], the next Propose returns x1, x2, ...
// at once (a hit: the drafting was hidden behind verification); otherwise it
// drafts afresh after the verified sequence, and the draft session rolls
// back to the common prefix by position, as for any rejection.
//
// Lossless: a pre-drafted token is drawn from the draft's distribution given
// exactly the sequence it is then verified after, with the draft's own
// random stream, and is verified against the q it was drawn from; only when
// the drafting happens changes, never what is accepted. Seeded runs stay
// reproducible: a pre-draft is started in every round that drafted, whatever
// the timing.
class DraftModelDrafter : public Drafter {
 public:
  // `backend` must outlive the drafter. No call is made until the first
  // Propose opens the session.
  DraftModelDrafter(DraftBackend& backend, const SessionOptions& options, bool pipelined,
                    int tree_alternatives = 0, int tree_depth = 0);
  // Waits for a pre-draft still in flight (bounded by its call deadline),
  // then closes the session if one was opened.
  ~DraftModelDrafter() override;

  absl::StatusOr<Proposal> Propose(const std::vector<int64_t>& committed, int gamma) override;
  void OnVerifyStarted(const std::vector<int64_t>& committed, const Draft& draft,
                       int next_gamma) override;
  void SetTreeShape(int alternatives, int depth) override {
    tree_alternatives_ = alternatives;
    tree_depth_ = depth;
  }
  DrafterStats stats() const override { return stats_; }

 private:
  struct PreDraft {
    std::vector<int64_t> after;  // The sequence the pre-draft continues.
    int64_t known_length = 0;    // Its sync's base: held by the session either way.
    absl::Time start;
    std::future<absl::StatusOr<TimedDraft>> result;
    std::shared_ptr<absl::Time> end;  // Set by the drafting thread.
  };

  // What to ask the backend for: γ drafted tokens (after a guess when
  // `guess`) with the tree shape cut to fit kMaxTreeNodes.
  ProposeItem Request(SequenceSync sync, int gamma, bool guess) const;
  // The sync that makes the session's committed tokens equal `sequence`
  // (rolling back to the common prefix), and records it as the new view.
  SequenceSync SyncTo(const std::vector<int64_t>& sequence);

  // Opens the session on `committed` (prompt + generated so far).
  absl::Status OpenOn(const std::vector<int64_t>& committed);

  DraftBackend& backend_;
  SessionOptions options_;       // The draft session's, clamped to its context.
  std::optional<SessionId> id_;  // Set once opened.
  std::vector<int64_t> view_;    // The session's committed tokens, as sent.
  const int64_t context_length_;
  const bool pipelined_;
  int tree_alternatives_;
  int tree_depth_;
  std::optional<PreDraft> pending_;
  DrafterStats stats_;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_DRAFT_MODEL_DRAFTER_H_
