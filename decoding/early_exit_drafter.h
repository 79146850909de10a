#ifndef TANDEM_DECODING_EARLY_EXIT_DRAFTER_H_
#define TANDEM_DECODING_EARLY_EXIT_DRAFTER_H_

#include <cstdint>
#include <vector>

#include "decoding/drafter.h"
#include "decoding/target_session.h"

namespace tandem::decoding {

// Self-speculation: drafts with the target's first `exit_layer` layers, on
// the request's own target session (its cache is shared with verification).
// Errors are the target's and end the request.
class EarlyExitDrafter : public Drafter {
 public:
  // `target` must outlive the drafter.
  EarlyExitDrafter(TargetSession& target, int64_t exit_layer)
      : target_(target), exit_layer_(exit_layer) {}
  absl::StatusOr<Proposal> Propose(const std::vector<int64_t>& committed, int gamma) override;

 private:
  TargetSession& target_;
  const int64_t exit_layer_;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_EARLY_EXIT_DRAFTER_H_
