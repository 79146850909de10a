#ifndef TANDEM_DECODING_SESSION_TABLE_H_
#define TANDEM_DECODING_SESSION_TABLE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "decoding/engine_session.h"
#include "decoding/prefix_cache.h"
#include "model/model.h"

namespace tandem::decoding {

// The sessions of one engine over one model: ids, limits, prefill, release.
// Thread-compatible (the owning engine serializes calls).
class SessionTable {
 public:
  // max_sessions 0 = unlimited. `prefix` keeps closed sessions' KV for
  // later prompts that start the same way (prefix_cache.h; off by default).
  SessionTable(model::Model& model, int64_t max_sessions, PrefixCache::Options prefix = {})
      : model_(model), max_sessions_(max_sessions), prefix_cache_(model, prefix) {}

  // Validates, then prefills prompt[0, n-1) (the last token stays pending).
  // With the prefix cache on, the longest prefix of the prompt already in a
  // KV cache — a kept one of a closed session, or an OPEN session's (other
  // requests with the same system prompt, the sibling sequences of one
  // request) — is copied (Model::Fork, exact) instead of recomputed.
  // InvalidArgument for a bad prompt or params, ResourceExhausted when full.
  absl::StatusOr<SessionId> Open(std::vector<int64_t> prompt,
                                 const SessionOptions& options);

  // As Open, but runs nothing: the prompt is prefilled by later engine calls
  // (TargetEngine prefill chunks, or the catch-up of the session's first
  // verify / score / draft call).
  absl::StatusOr<SessionId> Register(std::vector<int64_t> prompt,
                                     const SessionOptions& options);

  // NotFound for an unknown (closed or expired) session.
  absl::StatusOr<EngineSession*> Find(SessionId id);

  // A copy of `source` cut to its first `length` committed tokens; the KV
  // cache is copied (Model::Fork), never recomputed.
  absl::StatusOr<SessionId> Fork(SessionId source, int64_t length);

  // Closes the session; its KV goes to the prefix cache when that is on.
  absl::Status Close(SessionId id);
  int64_t size() const { return sessions_.size(); }
  model::Model& model() { return model_; }
  const PrefixCache& prefix_cache() const { return prefix_cache_; }

 private:
  // Copies into `destination` the longest prefix of `tokens` an open
  // session holds in its full-model cache, when it is at least the prefix
  // cache's min_tokens and longer than `at_least`; returns its length, or 0
  // (then `destination` is unchanged).
  int64_t CopyFromOpenSession(absl::Span<const int64_t> tokens, model::SequenceId destination,
                              int64_t at_least);

  model::Model& model_;
  int64_t max_sessions_;
  SessionId next_id_ = 1;
  absl::flat_hash_map<SessionId, std::unique_ptr<EngineSession>> sessions_;
  // Owns only retired sequences (closed sessions' KV), never an open session's.
  PrefixCache prefix_cache_;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_SESSION_TABLE_H_
