#include "decoding/target_session.h"

#include <utility>

namespace tandem::decoding {

absl::StatusOr<std::unique_ptr<TargetSession>> TargetSession::Open(
    TargetBackend& backend, const std::vector<int64_t>& prompt, const SessionOptions& options) {
  absl::StatusOr<SessionId> id = backend.Open(prompt, options);
  if (!id.ok()) return id.status();
  const int64_t context = backend.Info().context_length;
  return std::unique_ptr<TargetSession>(
      new TargetSession(backend, *id, static_cast<int64_t>(prompt.size()), context));
}

TargetSession::~TargetSession() { backend_.Close(id_); }

SequenceSync TargetSession::Sync(const std::vector<int64_t>& committed) {
  // The loop only ever appends to `committed`; the server rolls its own
  // drafts back, so the sync is just what it has not been sent.
  SequenceSync sync{known_, {committed.begin() + known_, committed.end()}};
  known_ = static_cast<int64_t>(committed.size());
  return sync;
}

absl::StatusOr<TimedVerify> TargetSession::Verify(const std::vector<int64_t>& committed,
                                                  Draft draft) {
  return backend_.Verify({id_, Sync(committed), std::move(draft)});
}

absl::StatusOr<TimedDraft> TargetSession::DraftEarlyExit(const std::vector<int64_t>& committed,
                                                         int gamma, int64_t exit_layer) {
  return backend_.DraftEarlyExit({id_, Sync(committed), gamma, exit_layer});
}

}  // namespace tandem::decoding
