#include "decoding/local_backends.h"

namespace tandem::decoding {

LocalTargetBackend::LocalTargetBackend(TargetEngine& engine,
                                       BatcherOptions options)
    : engine_(engine),
      verify_([this](absl::Span<const VerifyItem> items) { return engine_.Verify(items); },
              options, &engine_mutex_),
      early_exit_([this](absl::Span<const EarlyExitItem> items) {
                    return engine_.DraftEarlyExit(items);
                  },
                  options, &engine_mutex_),
      score_([this](absl::Span<const ScoreItem> items) { return engine_.Score(items); }, options,
             &engine_mutex_) {}

namespace {

absl::StatusOr<Scores> ScoresOf(ScoreOutcome outcome) {
  if (!outcome.status.ok()) return outcome.status;
  return static_cast<Scores&&>(std::move(outcome));
}

absl::StatusOr<TimedDraft> TimedDraftOf(DraftOutcome outcome) {
  if (!outcome.status.ok()) return outcome.status;
  TimedDraft out;
  out.draft = std::move(outcome.draft);
  return out;
}

}  // namespace

absl::StatusOr<decoding::Scores> LocalTargetBackend::Score(
    const ScoreItem& item) {
  return ScoresOf(score_.Run(item));
}

std::vector<absl::StatusOr<Scores>> LocalTargetBackend::ScoreAll(
    const std::vector<ScoreItem>& items) {
  std::vector<absl::StatusOr<Scores>> out;
  for (ScoreOutcome& outcome : score_.RunAll(items)) out.push_back(ScoresOf(std::move(outcome)));
  return out;
}

absl::StatusOr<SessionId> LocalTargetBackend::Fork(SessionId session, int64_t length) {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  return engine_.Fork(session, length);
}

model::ModelInfo LocalTargetBackend::Info() {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  return engine_.info();
}

absl::StatusOr<SessionId> LocalTargetBackend::Open(
    const std::vector<int64_t>& prompt, const SessionOptions& options) {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  return engine_.Open(prompt, options);
}

absl::StatusOr<TimedVerify> LocalTargetBackend::Verify(const VerifyItem& item) {
  VerifyOutcome outcome = verify_.Run(item);
  if (!outcome.status.ok()) return outcome.status;
  TimedVerify out;
  out.outcome = std::move(outcome);
  return out;
}

absl::StatusOr<TimedDraft> LocalTargetBackend::DraftEarlyExit(
    const EarlyExitItem& item) {
  return TimedDraftOf(early_exit_.Run(item));
}

void LocalTargetBackend::Close(SessionId session) {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  (void)engine_.Close(session);
}

LocalDraftBackend::LocalDraftBackend(DraftEngine& engine, BatcherOptions options)
    : engine_(engine),
      propose_([this](absl::Span<const ProposeItem> items) { return engine_.Propose(items); },
               options, &engine_mutex_) {}

model::ModelInfo LocalDraftBackend::Info() {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  return engine_.info();
}

absl::StatusOr<SessionId> LocalDraftBackend::Open(
    const std::vector<int64_t>& prompt, const SessionOptions& options) {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  return engine_.Open(prompt, options);
}

absl::StatusOr<TimedDraft> LocalDraftBackend::Propose(const ProposeItem& item) {
  return TimedDraftOf(propose_.Run(item));
}

std::vector<absl::StatusOr<TimedDraft>> LocalDraftBackend::ProposeAll(
    const std::vector<ProposeItem>& items) {
  std::vector<absl::StatusOr<TimedDraft>> out;
  for (DraftOutcome& outcome : propose_.RunAll(items)) {
    out.push_back(TimedDraftOf(std::move(outcome)));
  }
  return out;
}

void LocalDraftBackend::Close(SessionId session) {
  std::lock_guard<std::mutex> lock(engine_mutex_);
  (void)engine_.Close(session);
}

}  // namespace tandem::decoding
