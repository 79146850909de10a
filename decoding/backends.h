#ifndef TANDEM_DECODING_BACKENDS_H_
#define TANDEM_DECODING_BACKENDS_H_

// What the generation loop needs from a target and a draft: in-process
// engines (LocalTargetBackend / LocalDraftBackend) or gRPC services
// (services/orchestrator), so the same loop runs either way and the cost of
// the split can be measured. Implementations are thread-safe.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "decoding/engines.h"
#include "model/relevance.h"

namespace tandem::decoding {

// Time a backend call spent inside the server (for rpc_time = call − server).
struct Timed {
  absl::Duration server_time;
};

struct TimedVerify : Timed {
  VerifyOutcome outcome;
};

struct TimedDraft : Timed {
  Draft draft;
};

// The client's call as the transport that received it sees it. Decoding
// only asks whether it was cancelled; a backend of the same transport
// recovers its concrete type (for gRPC, services/orchestrator's
// GrpcIncomingCall, whose ServerContext propagates the client's deadline and
// cancellation to the backend's own calls). Thread-safe.
class IncomingCall {
 public:
  virtual ~IncomingCall() = default;
  virtual bool cancelled() const = 0;
};

// What one request hands to every backend call made on its behalf.
struct RequestScope {
  std::string request_id;
  // The client's deadline: no call outlives it.
  absl::Time deadline = absl::InfiniteFuture();
  // Not owned; outlives every call made with this scope. Null when the
  // request did not arrive over a transport (in-process callers, tests).
  const IncomingCall* incoming_call = nullptr;

  bool cancelled() const { return incoming_call != nullptr && incoming_call->cancelled(); }
};

// A finished sequence to attribute (model/relevance.h): tokens
// [first_generated, tokens.size()) against everything before them.
struct RelevanceItem {
  std::vector<int64_t> tokens;  // Prompt + generated.
  int64_t first_generated = 1;
  model::RelevanceOptions options;
  bool dense = false;  // Return every position's score, not only `top`.
};

class TargetBackend {
 public:
  virtual ~TargetBackend() = default;
  // A view of this backend whose calls carry `scope` (deadline,
  // cancellation, request id); it must not outlive this backend. Null means
  // "use this backend as is" (in-process backends need no scope).
  virtual std::unique_ptr<TargetBackend> ForRequest(const RequestScope& scope) { return nullptr; }
  virtual model::ModelInfo Info() = 0;
  virtual absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                         const SessionOptions& options) = 0;
  // Per-item failures come back as the status.
  virtual absl::StatusOr<TimedVerify> Verify(const VerifyItem& item) = 0;
  virtual absl::StatusOr<TimedDraft> DraftEarlyExit(const EarlyExitItem& item) = 0;
  // Beam search: next-token candidates without committing; and session forks.
  virtual absl::StatusOr<decoding::Scores> Score(const ScoreItem& item) = 0;
  // Several sessions' score items (distinct sessions) in one target pass
  // where the backend can (speculative beam search scores every beam's tree
  // together); results in item order. The default runs them concurrently
  // through Score, which a batching server may or may not put in one pass.
  virtual std::vector<absl::StatusOr<decoding::Scores>> ScoreAll(
      const std::vector<ScoreItem>& items);
  virtual absl::StatusOr<SessionId> Fork(SessionId session, int64_t length) = 0;
  virtual void Close(SessionId session) = 0;
  // Relevance of a finished sequence, one entry per attributed token in
  // order; needs no session (any replica of the model gives the same
  // answer). `scores` is empty unless item.dense. Unimplemented unless the
  // backend overrides it.
  virtual absl::StatusOr<std::vector<model::TokenRelevance>> Relevance(const RelevanceItem& item) {
    return absl::UnimplementedError("this target backend does not compute relevance");
  }
};

class DraftBackend {
 public:
  virtual ~DraftBackend() = default;
  // As TargetBackend::ForRequest.
  virtual std::unique_ptr<DraftBackend> ForRequest(const RequestScope& scope) { return nullptr; }
  virtual model::ModelInfo Info() = 0;
  virtual absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                         const SessionOptions& options) = 0;
  virtual absl::StatusOr<TimedDraft> Propose(const ProposeItem& item) = 0;
  // As TargetBackend::ScoreAll, for drafts (one draft step for all items
  // where the backend can).
  virtual std::vector<absl::StatusOr<TimedDraft>> ProposeAll(const std::vector<ProposeItem>& items);
  virtual void Close(SessionId session) = 0;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_BACKENDS_H_
