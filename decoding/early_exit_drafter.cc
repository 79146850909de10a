#include "decoding/early_exit_drafter.h"

#include <utility>

namespace tandem::decoding {

absl::StatusOr<Proposal> EarlyExitDrafter::Propose(const std::vector<int64_t>& committed,
                                                   int gamma) {
  absl::StatusOr<TimedDraft> d = target_.DraftEarlyExit(committed, gamma, exit_layer_);
  if (!d.ok()) return d.status();
  Proposal p;
  p.draft = std::move(d->draft);
  p.server_time = d->server_time;
  return p;
}

}  // namespace tandem::decoding
