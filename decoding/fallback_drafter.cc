#include "decoding/fallback_drafter.h"

namespace tandem::decoding {

absl::StatusOr<Proposal> FallbackDrafter::Propose(const std::vector<int64_t>& committed,
                                                  int gamma) {
  if (inner_ == nullptr) return Proposal{};
  absl::StatusOr<Proposal> p = inner_->Propose(committed, gamma);
  if (p.ok()) return p;
  last_ = inner_->stats();
  inner_.reset();
  fell_back_ = true;
  return Proposal{};
}

void FallbackDrafter::OnVerifyStarted(const std::vector<int64_t>& committed, const Draft& draft,
                                      int next_gamma) {
  if (inner_ != nullptr) inner_->OnVerifyStarted(committed, draft, next_gamma);
}

DrafterStats FallbackDrafter::stats() const {
  DrafterStats s = inner_ != nullptr ? inner_->stats() : last_;
  s.fell_back = fell_back_;
  return s;
}

}  // namespace tandem::decoding
