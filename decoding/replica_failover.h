#ifndef TANDEM_DECODING_REPLICA_FAILOVER_H_
#define TANDEM_DECODING_REPLICA_FAILOVER_H_

// Replica failover for one request: a TargetBackend / DraftBackend over
// several replicas of the same model that keeps, for every session it
// opened, the tokens the replica has seen (mirroring the engine's view from
// the syncs it sends and the tokens verification commits). When a call fails
// because the replica is gone (UNAVAILABLE) or no longer knows the session
// (NOT_FOUND: restarted, or the idle TTL reaped it), the session is opened
// again on the next replica with the original prompt and the call is retried
// with a sync that re-prefills everything generated since, in the same
// single forward pass that verifies the draft. Greedy output is therefore
// identical to an uninterrupted run; a sampled request continues with a
// fresh random stream from its seed (still an exact sample of the target).
//
// Spill: a replica that is full answers RESOURCE_EXHAUSTED (its session
// limit, or its batch queue). When it does so to an open, or to a session's
// first call (nothing of the session has reached the caller yet), the
// session goes to the next replica in order instead; only when every replica
// refused does the caller get RESOURCE_EXHAUSTED, with the first refusal's
// message (which names the limit). A RESOURCE_EXHAUSTED on a later call is
// the caller's answer.
//
// One object serves one request (its sessions and their forks); it is not
// meant to be shared across requests. Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "decoding/backends.h"

namespace tandem::decoding {

// Whether `status` from a backend call means "try this session elsewhere".
bool IsReplicaFailure(const absl::Status& status);

// Called after each successful re-prefill (for metrics and logs):
// (from replica, to replica, tokens re-prefilled).
using FailoverListener = std::function<void(size_t, size_t, int64_t)>;
// Called when a session a full replica refused went to another (for metrics
// and logs): (first replica that refused, replica that took it).
using SpillListener = std::function<void(size_t, size_t)>;
// Both, for callers that pass them around together; either may be null.
struct ReplicaListeners {
  FailoverListener failover;
  SpillListener spill;
};

// The session bookkeeping and retry loop both failover backends share.
// `Backend` is TargetBackend or DraftBackend.
template <typename Backend>
class ReplicaSessions {
 public:
  struct Session {
    size_t replica = 0;
    SessionId remote = 0;
    // The committed tokens as the caller believes the session holds them,
    // and how many of them the replica really holds (fewer after a
    // failover, until the next call re-prefills the rest).
    std::vector<int64_t> seen;
    int64_t actual = 0;
    int64_t prompt_length = 0;
    SessionOptions options;
    // Whether a call of this session has succeeded (after which a
    // RESOURCE_EXHAUSTED no longer spills).
    bool answered = false;
  };
  // A backend call for one session: (replica, its session id, the sync to
  // send). Returns the call's result.
  template <typename Result>
  using CallFn = std::function<absl::StatusOr<Result>(Backend&, SessionId, const SequenceSync&)>;

  ReplicaSessions(std::vector<Backend*> replicas, size_t first, FailoverListener listener,
                  SpillListener on_spill = nullptr);

  model::ModelInfo Info();
  // Opens on the first replica that is up and not full, from `first`
  // onwards.
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options);
  void Close(SessionId session);

  // Runs `call` for `session` with `sync`; on a replica failure (or a
  // RESOURCE_EXHAUSTED before the session's first success) reopens the
  // session elsewhere and retries (once per replica) with a sync that
  // re-prefills what the new replica lacks. On success the session's view is
  // Apply(seen, sync) followed by `committed(result)`.
  template <typename Result>
  absl::StatusOr<Result> Call(SessionId session, const SequenceSync& sync, const CallFn<Result>& call,
                              const std::function<std::vector<int64_t>(const Result&)>& committed);

  // Several sessions' calls that commit nothing (Score, Propose): items
  // whose sessions share a replica go to it in ONE call_all (with each
  // item's session and sync translated as Call would on its first attempt);
  // an item that fails there as a replica failure or spill, or whose sync
  // Call would not repair, is retried alone through `one` (Call with its
  // failover). Results in item order; sessions must be distinct.
  template <typename Item, typename Result>
  std::vector<absl::StatusOr<Result>> CallAll(
      const std::vector<Item>& items,
      const std::function<std::vector<absl::StatusOr<Result>>(Backend&, const std::vector<Item>&)>&
          call_all,
      const std::function<absl::StatusOr<Result>(const Item&)>& one);

  // A new session holding the first `length` tokens of `source`: forked on
  // its replica, or (if that replica is gone) opened elsewhere from the
  // prompt and re-prefilled by the next call.
  absl::StatusOr<SessionId> Fork(SessionId source, int64_t length);

  int64_t failovers() const;
  int64_t spills() const;
  absl::StatusOr<size_t> ReplicaOf(SessionId session) const;

  // `seen` after `sync` (base_length clamped to seen's size).
  static std::vector<int64_t> Apply(const std::vector<int64_t>& seen, const SequenceSync& sync);

 private:
  // Why a session moves to another replica.
  enum class Move { kFailover, kSpill };
  // Opens s.seen[0, prompt_length) on the replica after s.replica, wrapping
  // around; after a failure the same replica comes last (it may have
  // restarted), a spill never goes back to the replica that refused.
  absl::Status Reopen(Session& s, Move why);
  // Opens on the first of `tries` replicas from `first` on (wrapping) that
  // is neither down (UNAVAILABLE) nor full (RESOURCE_EXHAUSTED); any other
  // refusal is the answer. *first_full = the first replica that refused as
  // full, if any.
  absl::StatusOr<SessionId> OpenFrom(size_t first, size_t tries,
                                     const std::vector<int64_t>& prompt,
                                     const SessionOptions& options, size_t* replica,
                                     std::optional<size_t>* first_full);
  void RecordSpill(size_t from, size_t to);

  std::vector<Backend*> replicas_;
  size_t first_;
  FailoverListener listener_;
  SpillListener on_spill_;
  mutable std::mutex mu_;
  std::map<SessionId, Session> sessions_;
  SessionId next_id_ = 1;
  int64_t failovers_ = 0;
  int64_t spills_ = 0;
};

class FailoverTargetBackend : public TargetBackend {
 public:
  // `replicas` (not owned, at least one) are tried from `first` onwards.
  FailoverTargetBackend(std::vector<TargetBackend*> replicas, size_t first,
                        FailoverListener listener = nullptr, SpillListener on_spill = nullptr)
      : replicas_(replicas),
        first_(first),
        sessions_(std::move(replicas), first, std::move(listener), std::move(on_spill)) {}

  model::ModelInfo Info() override { return sessions_.Info(); }
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override {
    return sessions_.Open(prompt, options);
  }
  // Tries the replicas from `first` on while they fail as replicas
  // (IsReplicaFailure) or are busy (RESOURCE_EXHAUSTED); any other answer
  // is final.
  absl::StatusOr<std::vector<model::TokenRelevance>> Relevance(const RelevanceItem& item) override;
  absl::StatusOr<TimedVerify> Verify(const VerifyItem& item) override;
  absl::StatusOr<TimedDraft> DraftEarlyExit(const EarlyExitItem& item) override;
  absl::StatusOr<decoding::Scores> Score(const ScoreItem& item) override;
  // Items on one replica in one call (ReplicaSessions::CallAll).
  std::vector<absl::StatusOr<decoding::Scores>> ScoreAll(
      const std::vector<ScoreItem>& items) override;
  absl::StatusOr<SessionId> Fork(SessionId session, int64_t length) override {
    return sessions_.Fork(session, length);
  }
  void Close(SessionId session) override { sessions_.Close(session); }

  int64_t failovers() const { return sessions_.failovers(); }
  int64_t spills() const { return sessions_.spills(); }
  absl::StatusOr<size_t> ReplicaOf(SessionId session) const { return sessions_.ReplicaOf(session); }

 private:
  std::vector<TargetBackend*> replicas_;
  size_t first_;
  ReplicaSessions<TargetBackend> sessions_;
};

class FailoverDraftBackend : public DraftBackend {
 public:
  FailoverDraftBackend(std::vector<DraftBackend*> replicas, size_t first,
                       FailoverListener listener = nullptr, SpillListener on_spill = nullptr)
      : sessions_(std::move(replicas), first, std::move(listener), std::move(on_spill)) {}

  model::ModelInfo Info() override { return sessions_.Info(); }
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override {
    return sessions_.Open(prompt, options);
  }
  absl::StatusOr<TimedDraft> Propose(const ProposeItem& item) override;
  // Items on one replica in one call (ReplicaSessions::CallAll).
  std::vector<absl::StatusOr<TimedDraft>> ProposeAll(const std::vector<ProposeItem>& items) override;
  void Close(SessionId session) override { sessions_.Close(session); }

  int64_t failovers() const { return sessions_.failovers(); }
  int64_t spills() const { return sessions_.spills(); }
  absl::StatusOr<size_t> ReplicaOf(SessionId session) const { return sessions_.ReplicaOf(session); }

 private:
  ReplicaSessions<DraftBackend> sessions_;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_REPLICA_FAILOVER_H_
