#include "decoding/replica_failover.h"

#include <algorithm>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tandem::decoding {

bool IsReplicaFailure(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsNotFound(status);
}

template <typename Backend>
ReplicaSessions<Backend>::ReplicaSessions(std::vector<Backend*> replicas, size_t first,
                                          FailoverListener listener, SpillListener on_spill)
    : replicas_(std::move(replicas)),
      first_(replicas_.empty() ? 0 : first % replicas_.size()),
      listener_(std::move(listener)),
      on_spill_(std::move(on_spill)) {}

template <typename Backend>
model::ModelInfo ReplicaSessions<Backend>::Info() {
  return replicas_[first_]->Info();
}

template <typename Backend>
std::vector<int64_t> ReplicaSessions<Backend>::Apply(const std::vector<int64_t>& seen,
                                                     const SequenceSync& sync) {
  const size_t base = std::min<size_t>(std::max<int64_t>(sync.base_length, 0), seen.size());
  std::vector<int64_t> after(seen.begin(), seen.begin() + base);
  after.insert(after.end(), sync.append.begin(), sync.append.end());
  return after;
}

template <typename Backend>
absl::StatusOr<SessionId> ReplicaSessions<Backend>::OpenFrom(size_t first, size_t tries,
                                                             const std::vector<int64_t>& prompt,
                                                             const SessionOptions& options,
                                                             size_t* replica,
                                                             std::optional<size_t>* first_full) {
  absl::Status down = absl::UnavailableError("no replicas");
  first_full->reset();
  absl::Status full;
  for (size_t i = 0; i < std::min(tries, replicas_.size()); ++i) {
    const size_t r = (first + i) % replicas_.size();
    absl::StatusOr<SessionId> id = replicas_[r]->Open(prompt, options);
    if (id.ok()) {
      *replica = r;
      return *id;
    }
    // A replica that is down or full is skipped; any other refusal (e.g.
    // invalid argument) is the answer.
    if (absl::IsResourceExhausted(id.status())) {
      if (!*first_full) {
        *first_full = r;
        full = id.status();
      }
    } else if (absl::IsUnavailable(id.status())) {
      down = id.status();
    } else {
      return id.status();
    }
  }
  if (*first_full) {
    return absl::ResourceExhaustedError(absl::StrCat("every replica tried (", tries,
                                                     ") is full or down; first refusal: ",
                                                     full.message()));
  }
  return down;
}

template <typename Backend>
void ReplicaSessions<Backend>::RecordSpill(size_t from, size_t to) {
  ++spills_;
  if (on_spill_) on_spill_(from, to);
}

template <typename Backend>
absl::StatusOr<SessionId> ReplicaSessions<Backend>::Open(const std::vector<int64_t>& prompt,
                                                         const SessionOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  Session s;
  std::optional<size_t> full;
  absl::StatusOr<SessionId> remote =
      OpenFrom(first_, replicas_.size(), prompt, options, &s.replica, &full);
  if (!remote.ok()) return remote.status();
  if (full) RecordSpill(*full, s.replica);
  s.remote = *remote;
  s.seen = prompt;
  s.actual = static_cast<int64_t>(prompt.size());
  s.prompt_length = s.actual;
  s.options = options;
  const SessionId id = next_id_++;
  sessions_.emplace(id, std::move(s));
  return id;
}

template <typename Backend>
void ReplicaSessions<Backend>::Close(SessionId session) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  replicas_[it->second.replica]->Close(it->second.remote);
  sessions_.erase(it);
}

template <typename Backend>
absl::Status ReplicaSessions<Backend>::Reopen(Session& s, Move why) {
  const std::vector<int64_t> prompt(s.seen.begin(), s.seen.begin() + s.prompt_length);
  const size_t from = s.replica;
  size_t replica = 0;
  std::optional<size_t> full;
  const size_t tries = why == Move::kSpill ? replicas_.size() - 1 : replicas_.size();
  absl::StatusOr<SessionId> remote = OpenFrom(from + 1, tries, prompt, s.options, &replica, &full);
  if (!remote.ok()) return remote.status();
  replicas_[from]->Close(s.remote);  // Best effort: it may still hold the session.
  s.replica = replica;
  s.remote = *remote;
  s.actual = s.prompt_length;
  if (why == Move::kSpill) {
    RecordSpill(from, replica);
    return absl::OkStatus();
  }
  ++failovers_;
  if (listener_) listener_(from, replica, static_cast<int64_t>(s.seen.size()) - s.prompt_length);
  return absl::OkStatus();
}

template <typename Backend>
template <typename Result>
absl::StatusOr<Result> ReplicaSessions<Backend>::Call(
    SessionId session, const SequenceSync& sync, const CallFn<Result>& call,
    const std::function<std::vector<int64_t>(const Result&)>& committed) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("session ", session, " is not open"));
  }
  Session& s = it->second;
  if (sync.base_length < 0 || sync.base_length > static_cast<int64_t>(s.seen.size())) {
    // Not ours to repair: let the replica report the precondition.
    return call(*replicas_[s.replica], s.remote, sync);
  }
  const std::vector<int64_t> after = Apply(s.seen, sync);
  absl::Status first_failure;
  for (size_t attempt = 0; attempt <= replicas_.size(); ++attempt) {
    SequenceSync effective = sync;
    if (s.actual < sync.base_length) {
      effective.base_length = s.actual;
      effective.append.assign(after.begin() + s.actual, after.end());
    }
    absl::StatusOr<Result> result = call(*replicas_[s.replica], s.remote, effective);
    if (result.ok()) {
      s.seen = after;
      std::vector<int64_t> extra = committed ? committed(*result) : std::vector<int64_t>{};
      s.seen.insert(s.seen.end(), extra.begin(), extra.end());
      s.actual = static_cast<int64_t>(s.seen.size());
      s.answered = true;
      return result;
    }
    // Nothing of a session that never answered has reached the caller: a
    // full replica's refusal moves it like a failure.
    const bool spill =
        !s.answered && replicas_.size() > 1 && absl::IsResourceExhausted(result.status());
    if (!spill && !IsReplicaFailure(result.status())) return result.status();
    if (first_failure.ok()) first_failure = result.status();
    if (attempt == replicas_.size()) break;
    // The session's position is kept in `seen`; a new replica starts from
    // the prompt and the retried call carries the rest.
    if (absl::Status st = Reopen(s, spill ? Move::kSpill : Move::kFailover); !st.ok()) {
      if (spill) return st;
      return absl::UnavailableError(absl::StrCat("replica failed (", first_failure.message(),
                                                 ") and no replica could take over: ",
                                                 st.message()));
    }
  }
  if (absl::IsResourceExhausted(first_failure)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("every replica is full; first refusal: ", first_failure.message()));
  }
  return absl::UnavailableError(
      absl::StrCat("every replica failed; first error: ", first_failure.message()));
}

template <typename Backend>
template <typename Item, typename Result>
std::vector<absl::StatusOr<Result>> ReplicaSessions<Backend>::CallAll(
    const std::vector<Item>& items,
    const std::function<std::vector<absl::StatusOr<Result>>(Backend&, const std::vector<Item>&)>&
        call_all,
    const std::function<absl::StatusOr<Result>(const Item&)>& one) {
  std::vector<std::optional<absl::StatusOr<Result>>> done(items.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Per replica: the items (translated) and where they came from.
    std::map<size_t, std::pair<std::vector<Item>, std::vector<size_t>>> groups;
    std::vector<std::vector<int64_t>> after(items.size());
    for (size_t k = 0; k < items.size(); ++k) {
      auto it = sessions_.find(items[k].session);
      if (it == sessions_.end()) continue;  // `one` reports it.
      const Session& s = it->second;
      const SequenceSync& sync = items[k].sync;
      if (sync.base_length < 0 || sync.base_length > static_cast<int64_t>(s.seen.size())) continue;
      after[k] = Apply(s.seen, sync);
      Item copy = items[k];
      copy.session = s.remote;
      if (s.actual < sync.base_length) {
        copy.sync.base_length = s.actual;
        copy.sync.append.assign(after[k].begin() + s.actual, after[k].end());
      }
      auto& group = groups[s.replica];
      group.first.push_back(std::move(copy));
      group.second.push_back(k);
    }
    for (auto& [replica, group] : groups) {
      std::vector<absl::StatusOr<Result>> results = call_all(*replicas_[replica], group.first);
      for (size_t g = 0; g < group.second.size(); ++g) {
        const size_t k = group.second[g];
        absl::StatusOr<Result>& r = results[g];
        Session& s = sessions_.at(items[k].session);
        if (r.ok()) {
          s.seen = after[k];
          s.actual = static_cast<int64_t>(s.seen.size());
          s.answered = true;
          done[k] = std::move(r);
          continue;
        }
        const bool spill =
            !s.answered && replicas_.size() > 1 && absl::IsResourceExhausted(r.status());
        if (!spill && !IsReplicaFailure(r.status())) done[k] = r.status();
        // Else left for `one`, which moves the session and retries.
      }
    }
  }
  std::vector<absl::StatusOr<Result>> out;
  out.reserve(items.size());
  for (size_t k = 0; k < items.size(); ++k) {
    out.push_back(done[k] ? *std::move(done[k]) : one(items[k]));
  }
  return out;
}

template <typename Backend>
absl::StatusOr<SessionId> ReplicaSessions<Backend>::Fork(SessionId source, int64_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(source);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("session ", source, " is not open"));
  }
  Session& s = it->second;
  if (length < 1 || length > static_cast<int64_t>(s.seen.size())) {
    return absl::InvalidArgumentError(absl::StrCat("fork length ", length, " is outside [1, ",
                                                   s.seen.size(), "]"));
  }
  Session fork;
  fork.seen.assign(s.seen.begin(), s.seen.begin() + length);
  fork.prompt_length = std::min(s.prompt_length, length);
  fork.options = s.options;
  absl::Status failure;
  bool forked = false;
  if (length <= s.actual) {
    absl::StatusOr<SessionId> remote;
    if constexpr (std::is_same_v<Backend, TargetBackend>) {
      remote = replicas_[s.replica]->Fork(s.remote, length);
    } else {
      remote = absl::UnimplementedError("draft sessions are not forked");
    }
    if (remote.ok()) {
      fork.replica = s.replica;
      fork.remote = *remote;
      fork.actual = length;
      forked = true;
    } else if (!IsReplicaFailure(remote.status()) && !absl::IsUnimplemented(remote.status())) {
      return remote.status();
    } else {
      failure = remote.status();
    }
  }
  if (!forked) {
    // Start the fork from its prompt elsewhere; the next call re-prefills.
    const std::vector<int64_t> prompt(fork.seen.begin(), fork.seen.begin() + fork.prompt_length);
    std::optional<size_t> full;
    absl::StatusOr<SessionId> remote =
        OpenFrom(s.replica + (failure.ok() ? 0 : 1), replicas_.size(), prompt, fork.options,
                 &fork.replica, &full);
    if (!remote.ok()) return remote.status();
    if (full) RecordSpill(*full, fork.replica);
    fork.remote = *remote;
    fork.actual = fork.prompt_length;
    if (!failure.ok()) ++failovers_;
  }
  const SessionId id = next_id_++;
  sessions_.emplace(id, std::move(fork));
  return id;
}

template <typename Backend>
int64_t ReplicaSessions<Backend>::failovers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failovers_;
}

template <typename Backend>
int64_t ReplicaSessions<Backend>::spills() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spills_;
}

template <typename Backend>
absl::StatusOr<size_t> ReplicaSessions<Backend>::ReplicaOf(SessionId session) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("session ", session, " is not open"));
  }
  return it->second.replica;
}

template class ReplicaSessions<TargetBackend>;
template class ReplicaSessions<DraftBackend>;

namespace {

std::vector<int64_t> EmittedTokens(const TimedVerify& v) {
  std::vector<int64_t> tokens;
  for (const sampling::StepResult& step : v.outcome.result.emitted) tokens.push_back(step.token);
  return tokens;
}

}  // namespace

absl::StatusOr<TimedVerify> FailoverTargetBackend::Verify(const VerifyItem& item) {
  return sessions_.Call<TimedVerify>(
      item.session, item.sync,
      [&item](TargetBackend& replica, SessionId remote, const SequenceSync& sync) {
        VerifyItem copy = item;
        copy.session = remote;
        copy.sync = sync;
        return replica.Verify(copy);
      },
      EmittedTokens);
}

absl::StatusOr<TimedDraft> FailoverTargetBackend::DraftEarlyExit(const EarlyExitItem& item) {
  return sessions_.Call<TimedDraft>(
      item.session, item.sync,
      [&item](TargetBackend& replica, SessionId remote, const SequenceSync& sync) {
        EarlyExitItem copy = item;
        copy.session = remote;
        copy.sync = sync;
        return replica.DraftEarlyExit(copy);
      },
      nullptr);
}

absl::StatusOr<decoding::Scores> FailoverTargetBackend::Score(
    const ScoreItem& item) {
  return sessions_.Call<Scores>(
      item.session, item.sync,
      [&item](TargetBackend& replica, SessionId remote, const SequenceSync& sync) {
        ScoreItem copy = item;
        copy.session = remote;
        copy.sync = sync;
        return replica.Score(copy);
      },
      nullptr);
}

std::vector<absl::StatusOr<Scores>> FailoverTargetBackend::ScoreAll(
    const std::vector<ScoreItem>& items) {
  return sessions_.CallAll<ScoreItem, Scores>(
      items,
      [](TargetBackend& replica, const std::vector<ScoreItem>& translated) {
        return replica.ScoreAll(translated);
      },
      [this](const ScoreItem& item) { return Score(item); });
}

absl::StatusOr<std::vector<model::TokenRelevance>> FailoverTargetBackend::Relevance(
    const RelevanceItem& item) {
  absl::Status last = absl::UnavailableError("no target replica");
  for (size_t k = 0; k < replicas_.size(); ++k) {
    absl::StatusOr<std::vector<model::TokenRelevance>> r =
        replicas_[(first_ + k) % replicas_.size()]->Relevance(item);
    if (r.ok() || !(IsReplicaFailure(r.status()) || absl::IsResourceExhausted(r.status()))) {
      return r;
    }
    last = r.status();
  }
  return last;
}

absl::StatusOr<TimedDraft> FailoverDraftBackend::Propose(const ProposeItem& item) {
  return sessions_.Call<TimedDraft>(
      item.session, item.sync,
      [&item](DraftBackend& replica, SessionId remote, const SequenceSync& sync) {
        ProposeItem copy = item;
        copy.session = remote;
        copy.sync = sync;
        return replica.Propose(copy);
      },
      nullptr);
}

std::vector<absl::StatusOr<TimedDraft>> FailoverDraftBackend::ProposeAll(
    const std::vector<ProposeItem>& items) {
  return sessions_.CallAll<ProposeItem, TimedDraft>(
      items,
      [](DraftBackend& replica, const std::vector<ProposeItem>& translated) {
        return replica.ProposeAll(translated);
      },
      [this](const ProposeItem& item) { return Propose(item); });
}

}  // namespace tandem::decoding
