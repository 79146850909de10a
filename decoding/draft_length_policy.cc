#include "decoding/draft_length_policy.h"

#include <algorithm>
#include <cmath>

namespace tandem::decoding {

DraftLengthPolicy::DraftLengthPolicy(int initial, int max, bool adaptive)
    : initial_(std::max(0, initial)), max_(std::max(1, max)), adaptive_(adaptive) {}

double DraftLengthPolicy::alpha() const {
  // A weak prior (one accepted of two examined) until data arrives.
  return (accepted_ + 1.0) / (examined_ + 2.0);
}

double DraftLengthPolicy::cost_ratio() const {
  return verify_seconds_ > 0 ? draft_seconds_per_token_ / verify_seconds_ : 0.1;
}

double DraftLengthPolicy::ExpectedSpeedup(double alpha, double c, int gamma) {
  if (alpha >= 1.0) return (gamma + 1.0) / (gamma * c + 1.0);
  return (1.0 - std::pow(alpha, gamma + 1)) / ((1.0 - alpha) * (gamma * c + 1.0));
}

std::pair<int, double> DraftLengthPolicy::Best() const {
  const double a = alpha(), c = cost_ratio();
  int best = 1;
  double best_speedup = ExpectedSpeedup(a, c, 1);
  for (int g = 2; g <= max_; ++g) {
    const double s = ExpectedSpeedup(a, c, g);
    if (s > best_speedup) {
      best = g;
      best_speedup = s;
    }
  }
  return {best, best_speedup};
}

int DraftLengthPolicy::Peek() const {
  if (!adaptive_) return initial_;
  if (rounds_ < 2) return std::max(1, std::min(initial_, max_));
  if (backoff_left_ > 0) return backoff_left_ == 1 ? 1 : 0;
  const auto [best, speedup] = Best();
  return speedup < 1.0 ? 0 : best;
}

int DraftLengthPolicy::Next() {
  if (!adaptive_) return initial_;
  if (rounds_ < 2) return std::max(1, std::min(initial_, max_));
  if (backoff_left_ > 0) {
    --backoff_left_;
    return backoff_left_ == 0 ? 1 : 0;
  }
  const auto [best, speedup] = Best();
  if (speedup < 1.0) {
    backoff_left_ = kBackoffRounds;
    return 0;
  }
  return best;
}

void DraftLengthPolicy::Update(int drafted, int accepted,
                               absl::Duration draft_time,
                               absl::Duration verify_time) {
  ++rounds_;
  if (drafted <= 0) return;
  // Positions actually examined: every accepted one plus the rejected one.
  const int examined = std::min(drafted, accepted + 1);
  // Exponential decay keeps the estimates tracking the text.
  constexpr double kDecay = 0.95;
  accepted_ = accepted_ * kDecay + accepted;
  examined_ = examined_ * kDecay + examined;
  const double draft_per_token = absl::ToDoubleSeconds(draft_time) / drafted;
  const double verify = absl::ToDoubleSeconds(verify_time);
  draft_seconds_per_token_ = draft_seconds_per_token_ == 0
                                 ? draft_per_token
                                 : 0.8 * draft_seconds_per_token_ + 0.2 * draft_per_token;
  verify_seconds_ = verify_seconds_ == 0 ? verify : 0.8 * verify_seconds_ + 0.2 * verify;
}

}  // namespace tandem::decoding
