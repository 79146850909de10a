#ifndef TANDEM_DECODING_LOCAL_BACKENDS_H_
#define TANDEM_DECODING_LOCAL_BACKENDS_H_

#include <memory>
#include <mutex>

#include "decoding/backends.h"
#include "decoding/batcher.h"
#include "decoding/engines.h"

namespace tandem::decoding {

// In-process target: concurrent requests' Verify / DraftEarlyExit calls are
// batched into shared engine calls (one batched forward pass each).
class LocalTargetBackend : public TargetBackend {
 public:
  LocalTargetBackend(TargetEngine& engine, BatcherOptions options = {});

  model::ModelInfo Info() override;
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override;
  absl::StatusOr<TimedVerify> Verify(const VerifyItem& item) override;
  absl::StatusOr<TimedDraft> DraftEarlyExit(const EarlyExitItem& item) override;
  absl::StatusOr<decoding::Scores> Score(const ScoreItem& item) override;
  // All items queued together: one engine step, one forward.
  std::vector<absl::StatusOr<decoding::Scores>> ScoreAll(
      const std::vector<ScoreItem>& items) override;
  absl::StatusOr<SessionId> Fork(SessionId session, int64_t length) override;
  void Close(SessionId session) override;

  int64_t verify_batches() const { return verify_.batches_run(); }
  int64_t score_batches() const { return score_.batches_run(); }
  int64_t verify_items() const { return verify_.items_run(); }

 private:
  TargetEngine& engine_;
  std::mutex engine_mutex_;
  Batcher<VerifyItem, VerifyOutcome> verify_;
  Batcher<EarlyExitItem, DraftOutcome> early_exit_;
  Batcher<ScoreItem, ScoreOutcome> score_;
};

class LocalDraftBackend : public DraftBackend {
 public:
  LocalDraftBackend(DraftEngine& engine, BatcherOptions options = {});

  model::ModelInfo Info() override;
  absl::StatusOr<SessionId> Open(const std::vector<int64_t>& prompt,
                                 const SessionOptions& options) override;
  absl::StatusOr<TimedDraft> Propose(const ProposeItem& item) override;
  // All items queued together: their draft steps are batched.
  std::vector<absl::StatusOr<TimedDraft>> ProposeAll(const std::vector<ProposeItem>& items) override;
  void Close(SessionId session) override;

 private:
  DraftEngine& engine_;
  std::mutex engine_mutex_;
  Batcher<ProposeItem, DraftOutcome> propose_;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_LOCAL_BACKENDS_H_
