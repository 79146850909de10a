#include "decoding/session_table.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace tandem::decoding {

absl::StatusOr<SessionId> SessionTable::Open(std::vector<int64_t> prompt,
                                             const SessionOptions& options) {
  if (max_sessions_ > 0 && static_cast<int64_t>(sessions_.size()) >= max_sessions_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "all ", max_sessions_, " sessions are in use; retry later"));
  }
  const SessionId id = next_id_++;
  auto session = NewEngineSession(model_.info(), id, std::move(prompt), options);
  if (!session.ok()) return session.status();
  EngineSession& s = **session;
  if (s.committed.size() > 1) {
    std::vector<int64_t> prefill(s.committed.begin(), s.committed.end() - 1);
    absl::StatusOr<at::Tensor> out =
        model_.ForwardOne(s.sequence, prefill, 0, /*all_logits=*/false);
    if (!out.ok()) {
      model_.Release(s.sequence);
      return out.status();
    }
    s.cached = std::move(prefill);
  }
  sessions_.emplace(id, *std::move(session));
  return id;
}

absl::StatusOr<EngineSession*> SessionTable::Find(SessionId id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return absl::NotFoundError(
        absl::StrCat("unknown session ", id, " (closed or expired)"));
  }
  return it->second.get();
}

absl::Status SessionTable::Close(SessionId id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown session ", id));
  }
  model_.Release(it->second->sequence);
  sessions_.erase(it);
  return absl::OkStatus();
}

}  // namespace tandem::decoding
