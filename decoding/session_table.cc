#include "decoding/session_table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tandem::decoding {

absl::StatusOr<SessionId> SessionTable::Register(std::vector<int64_t> prompt,
                                                 const SessionOptions& options) {
  if (max_sessions_ > 0 && static_cast<int64_t>(sessions_.size()) >= max_sessions_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "all ", max_sessions_, " sessions are in use; retry later"));
  }
  const int64_t context = model_.info().context_length;
  const int64_t reserve =
      options.max_sequence_length > 0 ? options.max_sequence_length : context;
  if (reserve < static_cast<int64_t>(prompt.size()) || reserve > context) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`max_sequence_length` must be in [prompt length ", prompt.size(), ", context length ",
        context, "], got ", options.max_sequence_length));
  }
  const SessionId id = next_id_++;
  auto session = NewEngineSession(model_.info(), id, std::move(prompt), options);
  if (!session.ok()) return session.status();
  EngineSession& s = **session;
  // A kept prefix of the prompt (all but the pending last token) is copied,
  // not recomputed.
  const absl::Span<const int64_t> prefix =
      absl::MakeConstSpan(s.committed).subspan(0, s.committed.size() - 1);
  int64_t reused = prefix_cache_.Adopt(prefix, s.sequence);
  if (prefix_cache_.enabled()) {
    if (const int64_t live = CopyFromOpenSession(prefix, s.sequence, reused); live > 0) {
      reused = live;
    }
  }
  // Admission by KV memory: reserve now, so the session never fails later;
  // kept prefixes give way first.
  absl::Status reserved = model_.Reserve(s.sequence, reserve);
  while (reserved.code() == absl::StatusCode::kResourceExhausted && prefix_cache_.EvictOne()) {
    reserved = model_.Reserve(s.sequence, reserve);
  }
  if (!reserved.ok()) {
    model_.Release(s.sequence);
    return reserved;
  }
  s.cached.assign(s.committed.begin(), s.committed.begin() + reused);
  sessions_.emplace(id, *std::move(session));
  return id;
}

int64_t SessionTable::CopyFromOpenSession(absl::Span<const int64_t> tokens,
                                          model::SequenceId destination, int64_t at_least) {
  const EngineSession* best = nullptr;
  int64_t best_length = std::max<int64_t>(at_least, prefix_cache_.min_tokens() - 1);
  for (const auto& [id, session] : sessions_) {
    // Positions [0, cached) of a session's full-model cache hold `cached`
    // (between engine calls; the owner serializes them).
    const std::vector<int64_t>& cached = session->cached;
    const int64_t most = std::min<int64_t>(
        {static_cast<int64_t>(cached.size()), static_cast<int64_t>(tokens.size()),
         model_.Length(session->sequence)});
    if (most <= best_length) continue;
    const int64_t common =
        std::mismatch(cached.begin(), cached.begin() + most, tokens.begin()).first -
        cached.begin();
    if (common > best_length) {
      best = session.get();
      best_length = common;
    }
  }
  if (best == nullptr) return 0;
  absl::Status forked = model_.Fork(best->sequence, destination, best_length);
  while (forked.code() == absl::StatusCode::kResourceExhausted && prefix_cache_.EvictOne()) {
    forked = model_.Fork(best->sequence, destination, best_length);
  }
  if (!forked.ok()) return 0;
  prefix_cache_.RecordCopy(best_length);
  return best_length;
}

absl::StatusOr<SessionId> SessionTable::Open(std::vector<int64_t> prompt,
                                             const SessionOptions& options) {
  absl::StatusOr<SessionId> id = Register(std::move(prompt), options);
  if (!id.ok()) return id;
  EngineSession& s = *sessions_.at(*id);
  if (s.committed.size() > s.cached.size() + 1) {
    const std::vector<int64_t> rest(s.committed.begin() + s.cached.size(), s.committed.end() - 1);
    absl::StatusOr<at::Tensor> out =
        model_.ForwardOne(s.sequence, rest, 0, /*all_logits=*/false);
    if (!out.ok()) {
      model_.Release(s.sequence);
      sessions_.erase(*id);
      return out.status();
    }
    s.cached.assign(s.committed.begin(), s.committed.end() - 1);
  }
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

absl::StatusOr<SessionId> SessionTable::Fork(SessionId source, int64_t length) {
  absl::StatusOr<EngineSession*> src = Find(source);
  if (!src.ok()) return src.status();
  const EngineSession& s = **src;
  if (length < s.prompt_length || length > static_cast<int64_t>(s.committed.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fork length ", length, " must be in [prompt length ", s.prompt_length, ", ",
        s.committed.size(), "]"));
  }
  if (max_sessions_ > 0 && static_cast<int64_t>(sessions_.size()) >= max_sessions_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "all ", max_sessions_, " sessions are in use; retry later"));
  }
  const SessionId id = next_id_++;
  // Keep the cache positions that are committed tokens of the copy.
  const int64_t cached = std::min<int64_t>({static_cast<int64_t>(s.cached.size()), length - 1,
                                            model_.Length(s.sequence)});
  absl::Status forked = model_.Fork(s.sequence, id, cached);
  while (forked.code() == absl::StatusCode::kResourceExhausted && prefix_cache_.EvictOne()) {
    forked = model_.Fork(s.sequence, id, cached);
  }
  if (!forked.ok()) return forked;
  auto copy = std::make_unique<EngineSession>();
  copy->sequence = id;
  copy->committed.assign(s.committed.begin(), s.committed.begin() + length);
  copy->prompt_length = s.prompt_length;
  copy->cached.assign(s.cached.begin(), s.cached.begin() + cached);
  auto selector = sampling::TokenSelector::Create(s.selector->params());
  if (!selector.ok()) {
    model_.Release(id);
    return selector.status();
  }
  copy->selector = *std::move(selector);
  copy->rng = std::make_unique<sampling::Rng>(*s.rng);
  copy->top_logprobs = s.top_logprobs;
  copy->distribution_top_n = s.distribution_top_n;
  sessions_.emplace(id, std::move(copy));
  return id;
}

absl::Status SessionTable::Close(SessionId id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown session ", id));
  }
  EngineSession& s = *it->second;
  prefix_cache_.Retire(s.sequence, std::move(s.cached));
  sessions_.erase(it);
  return absl::OkStatus();
}

}  // namespace tandem::decoding
