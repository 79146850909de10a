#ifndef TANDEM_DECODING_TARGET_SESSION_H_
#define TANDEM_DECODING_TARGET_SESSION_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "decoding/backends.h"

namespace tandem::decoding {

// One sequence's session on the target, as the generation loop sees it:
// the loop hands over the full committed sequence and the session works out
// the sync (what the target has not seen yet, or where to roll back to).
// Owns the session: the destructor closes it. Not thread-safe (one loop).
class TargetSession {
 public:
  // Opens a session with `prompt` (errors from the backend as is).
  static absl::StatusOr<std::unique_ptr<TargetSession>> Open(TargetBackend& backend,
                                                             const std::vector<int64_t>& prompt,
                                                             const SessionOptions& options);
  ~TargetSession();
  TargetSession(const TargetSession&) = delete;
  TargetSession& operator=(const TargetSession&) = delete;

  // One target pass over `draft` after `committed` (an empty draft is a
  // plain decode step): lossless verification, committing the accepted
  // drafts plus one target token on the server.
  absl::StatusOr<TimedVerify> Verify(const std::vector<int64_t>& committed, Draft draft);

  // Self-speculation: γ tokens drafted by the target's first `exit_layer`
  // layers (0 = the model's default), sharing the session's cache.
  absl::StatusOr<TimedDraft> DraftEarlyExit(const std::vector<int64_t>& committed, int gamma,
                                            int64_t exit_layer);

  int64_t context_length() const { return context_length_; }

 private:
  TargetSession(TargetBackend& backend, SessionId id, int64_t known, int64_t context_length)
      : backend_(backend), id_(id), known_(known), context_length_(context_length) {}
  SequenceSync Sync(const std::vector<int64_t>& committed);

  TargetBackend& backend_;
  const SessionId id_;
  int64_t known_;  // Committed tokens the server has been sent.
  const int64_t context_length_;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_TARGET_SESSION_H_
