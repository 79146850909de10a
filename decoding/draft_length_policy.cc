#include "decoding/draft_length_policy.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "decoding/least_squares.h"

namespace tandem::decoding {

DraftLengthPolicy::DraftLengthPolicy(int initial, int max, bool adaptive, int min,
                                     bool draft_shares_cpu)
    : initial_(std::max(0, initial)),
      max_(std::max(1, max)),
      min_(std::clamp(min, 0, std::max(1, max))),
      adaptive_(adaptive),
      draft_shares_cpu_(draft_shares_cpu),
      verify_seconds_(std::max(1, max) + 1, 0.0),
      updated_at_(std::max(1, max) + 1, -1) {}

bool DraftLengthPolicy::Fresh(int gamma) const {
  return verify_seconds_[gamma] > 0 && rounds_ - updated_at_[gamma] <= kFreshRounds;
}

double DraftLengthPolicy::alpha() const {
  // A weak prior (one accepted of two examined) until data arrives.
  return (accepted_ + 1.0) / (examined_ + 2.0);
}

double DraftLengthPolicy::VerifySeconds(int gamma) const {
  gamma = std::clamp(gamma, 0, max_);
  if (Fresh(gamma)) return verify_seconds_[gamma];
  // Least squares over the γ seen recently (all seen when none is recent):
  // a cost last measured under other load must not pin the choice.
  bool any_fresh = false;
  for (int g = 0; g <= max_; ++g) any_fresh = any_fresh || Fresh(g);
  LeastSquares fit;
  for (int g = 0; g <= max_; ++g) {
    const double y = verify_seconds_[g];
    if (y <= 0 || (any_fresh && !Fresh(g))) continue;
    fit.Add(g, y);
  }
  if (fit.count() == 0) return 0;
  const double mean_x = fit.mean_x(), mean_y = fit.mean_y();
  double slope;
  if (fit.has_slope()) {
    slope = std::max(0.0, fit.slope());  // More rows never verify faster.
  } else {
    // One γ seen: y = step · (1 + kPriorRowCost γ) through it.
    slope = mean_y * kPriorRowCost / (1.0 + kPriorRowCost * mean_x);
  }
  return std::max(1e-9, mean_y + slope * (gamma - mean_x));
}

double DraftLengthPolicy::cost_ratio() const {
  const double step = VerifySeconds(0);
  return step > 0 ? draft_seconds_per_token_ / step : 0.1;
}

double DraftLengthPolicy::ExpectedSpeedup(double alpha, double c, int gamma) {
  if (alpha >= 1.0) return (gamma + 1.0) / (gamma * c + 1.0);
  return (1.0 - std::pow(alpha, gamma + 1)) / ((1.0 - alpha) * (gamma * c + 1.0));
}

double DraftLengthPolicy::MarginalSeconds(int rows) const {
  const int n = static_cast<int>(marginal_.size());
  if (n == 0 || rows <= 0) return 0;
  if (rows <= n) return marginal_[rows - 1];
  const double slope = n >= 2 ? std::max(0.0, marginal_[n - 1] - marginal_[n - 2]) : marginal_[0];
  return marginal_[n - 1] + slope * (rows - n);
}

double DraftLengthPolicy::ModelSpeedup(int gamma) const {
  const double step = VerifySeconds(0);
  if (step <= 0) return ExpectedSpeedup(alpha(), cost_ratio(), gamma);
  const double drafting = gamma * draft_seconds_per_token_;
  return std::min(ExpectedTokens(gamma) * step / (drafting + VerifySeconds(gamma)),
                  TargetSpeedup(gamma));
}

double DraftLengthPolicy::ExpectedTokens(int gamma) const {
  const double a = std::min(alpha(), 1.0 - 1e-9);
  return (1.0 - std::pow(a, gamma + 1)) / (1.0 - a);
}

bool DraftLengthPolicy::HasLoadSignal() const {
  return !marginal_.empty() && MarginalSeconds(1) > 0;
}

double DraftLengthPolicy::TargetSpeedup(int gamma) const {
  if (!HasLoadSignal()) return std::numeric_limits<double>::infinity();
  const double o = (1 - others_busy_) * transport_seconds_;
  return ExpectedTokens(gamma) * (MarginalSeconds(1) + o) /
         (MarginalSeconds(gamma + 1) + o + gamma * draft_seconds_per_token_ +
          SharedCpuSeconds(gamma));
}

double DraftLengthPolicy::SharedCpuSeconds(int gamma) const {
  return draft_shares_cpu_ ? others_busy_ * gamma * draft_compute_per_token_ : 0;
}

bool DraftLengthPolicy::TargetMayPay() const {
  if (!HasLoadSignal()) return true;
  for (int g = 1; g <= max_; ++g) {
    if (ExpectedTokens(g) * MarginalSeconds(1) >= MarginalSeconds(g + 1) + SharedCpuSeconds(g)) {
      return true;
    }
  }
  return false;
}

std::pair<int, double> DraftLengthPolicy::Best() const {
  int best = std::max(1, min_);
  double best_speedup = ModelSpeedup(best);
  for (int g = best + 1; g <= max_; ++g) {
    const double s = ModelSpeedup(g);
    if (s > best_speedup) {
      best = g;
      best_speedup = s;
    }
  }
  return {best, best_speedup};
}

DraftLengthPolicy::Choice DraftLengthPolicy::Decide() const {
  const int start = std::clamp(initial_, std::max(1, min_), max_);
  if (min_ > 0) {
    // A floor: no plain rounds, no back-off.
    if (rounds_ < 2) return {start, Move::kNone};
    return {Best().first, Move::kSpeculate};
  }
  if (rounds_ == 0) return {0, Move::kNone};  // Plain: measures v(0) and the load.
  if (backoff_left_ > 1) return {0, Move::kBackoffTick};
  if (backoff_left_ == 1) {
    // The probe is due; a saturated target would only waste it.
    return TargetMayPay() ? Choice{1, Move::kBackoffTick} : Choice{0, Move::kHoldProbe};
  }
  if (rounds_ <= 2) {
    return TargetMayPay() ? Choice{start, Move::kNone} : Choice{0, Move::kEnterBackoff};
  }
  const auto [best, speedup] = Best();
  if (speedup < 1.0) return {0, Move::kEnterBackoff};
  return {best, Move::kSpeculate};
}

int DraftLengthPolicy::Peek() const {
  if (!adaptive_) return initial_;
  return Decide().gamma;
}

int DraftLengthPolicy::Next() {
  if (!adaptive_) return initial_;
  const Choice c = Decide();
  switch (c.move) {
    case Move::kNone:
    case Move::kHoldProbe:
      break;
    case Move::kBackoffTick:
      --backoff_left_;
      break;
    case Move::kEnterBackoff:
      // Each back-off without a paying round in between doubles the next
      // (up to kMaxBackoffRounds): a mode that never pays costs ever fewer
      // probe rounds.
      backoff_left_ = backoff_length_;
      backoff_length_ = std::min(2 * backoff_length_, kMaxBackoffRounds);
      break;
    case Move::kSpeculate:
      backoff_length_ = kBackoffRounds;
      break;
  }
  return c.gamma;
}

void DraftLengthPolicy::Update(int drafted, int accepted,
                               absl::Duration draft_time,
                               absl::Duration verify_time,
                               absl::Span<const float> marginal_seconds,
                               absl::Duration transport, double others_busy,
                               absl::Duration draft_compute) {
  ++rounds_;
  const double b = std::clamp(others_busy, 0.0, 1.0);
  others_busy_ = rounds_ == 1 ? b : (1 - kWeight) * others_busy_ + kWeight * b;
  const double t = absl::ToDoubleSeconds(transport);
  transport_seconds_ = rounds_ == 1 ? t : (1 - kWeight) * transport_seconds_ + kWeight * t;
  if (!marginal_seconds.empty()) {
    if (marginal_.size() != marginal_seconds.size()) {
      marginal_.assign(marginal_seconds.begin(), marginal_seconds.end());
    } else {
      for (size_t i = 0; i < marginal_.size(); ++i) {
        marginal_[i] = (1 - kWeight) * marginal_[i] + kWeight * marginal_seconds[i];
      }
    }
  }
  // Exponential decay keeps the estimates tracking the text and the load.
  constexpr double kDecay = 0.98;
  const double verify = absl::ToDoubleSeconds(verify_time);
  const int g = std::clamp(drafted, 0, max_);
  double& v = verify_seconds_[g];
  v = !Fresh(g) ? verify : (1 - kWeight) * v + kWeight * verify;
  updated_at_[g] = rounds_;
  if (drafted <= 0) return;
  // Positions actually examined: every accepted one plus the rejected one.
  const int examined = std::min(drafted, accepted + 1);
  accepted_ = accepted_ * kDecay + accepted;
  examined_ = examined_ * kDecay + examined;
  const double compute_per_token = absl::ToDoubleSeconds(draft_compute) / drafted;
  draft_compute_per_token_ = draft_compute_per_token_ == 0
                                 ? compute_per_token
                                 : (1 - kWeight) * draft_compute_per_token_ +
                                       kWeight * compute_per_token;
  const double draft_per_token = absl::ToDoubleSeconds(draft_time) / drafted;
  draft_seconds_per_token_ = draft_seconds_per_token_ == 0
                                 ? draft_per_token
                                 : (1 - kWeight) * draft_seconds_per_token_ +
                                       kWeight * draft_per_token;
}

}  // namespace tandem::decoding
