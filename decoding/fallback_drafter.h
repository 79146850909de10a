#ifndef TANDEM_DECODING_FALLBACK_DRAFTER_H_
#define TANDEM_DECODING_FALLBACK_DRAFTER_H_

#include <memory>
#include <vector>

#include "decoding/drafter.h"

namespace tandem::decoding {

// Wraps a drafter whose failure must not fail the request (a separate draft
// service): the first error releases the inner drafter (closing its session)
// and every later proposal is empty, so the request finishes target-only
// with the same greedy output. `inner` may be null: fallen back from the
// start (the draft session could not be opened).
class FallbackDrafter : public Drafter {
 public:
  explicit FallbackDrafter(std::unique_ptr<Drafter> inner) : inner_(std::move(inner)) {
    fell_back_ = inner_ == nullptr;
  }
  absl::StatusOr<Proposal> Propose(const std::vector<int64_t>& committed, int gamma) override;
  void OnVerifyStarted(const std::vector<int64_t>& committed, const Draft& draft,
                       int next_gamma) override;
  void SetTreeShape(int alternatives, int depth) override {
    if (inner_ != nullptr) inner_->SetTreeShape(alternatives, depth);
  }
  DrafterStats stats() const override;

 private:
  std::unique_ptr<Drafter> inner_;
  DrafterStats last_;  // The inner drafter's counters when it was released.
  bool fell_back_ = false;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_FALLBACK_DRAFTER_H_
