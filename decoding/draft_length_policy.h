#ifndef TANDEM_DECODING_DRAFT_LENGTH_POLICY_H_
#define TANDEM_DECODING_DRAFT_LENGTH_POLICY_H_

#include <utility>

#include "absl/time/time.h"

namespace tandem::decoding {

// Chooses the draft length γ for each round of one request.
//  * Fixed: always `initial`.
//  * Adaptive: estimates the per-position acceptance probability α (accepted
//    / examined draft positions) and the cost ratio c (draft time per drafted
//    token / verify time per round) from the rounds so far, and picks the γ in
//    [1, max] that maximises Leviathan et al.'s expected speedup
//    S(γ) = (1 − α^(γ+1)) / ((1 − α)(γc + 1)). When even the best S is below 1
//    speculation does not pay: γ = 0 (plain decoding) for `backoff_rounds`
//    rounds, then one γ = 1 probe refreshes the estimates.
class DraftLengthPolicy {
 public:
  DraftLengthPolicy(int initial, int max, bool adaptive);

  // The γ for the next round (advances the back-off schedule).
  int Next();
  // What Next() would return now, without advancing anything (a pipelined
  // drafter's guess of the next round's γ).
  int Peek() const;
  void Update(int drafted, int accepted, absl::Duration draft_time,
              absl::Duration verify_time);

  double alpha() const;
  double cost_ratio() const;
  static double ExpectedSpeedup(double alpha, double c, int gamma);

 private:
  // The γ maximising the expected speedup, and that speedup.
  std::pair<int, double> Best() const;

  int initial_;
  int max_;
  bool adaptive_;
  double accepted_ = 0;
  double examined_ = 0;
  double draft_seconds_per_token_ = 0;
  double verify_seconds_ = 0;
  int rounds_ = 0;
  int backoff_left_ = 0;
  static constexpr int kBackoffRounds = 8;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_DRAFT_LENGTH_POLICY_H_
