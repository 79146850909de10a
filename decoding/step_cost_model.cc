#include "decoding/step_cost_model.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "decoding/least_squares.h"

namespace tandem::decoding {

int64_t StepCostModel::Bucket(int64_t rows) {
  if (rows <= 32) return rows;
  if (rows <= 256) return rows / 8 * 8;
  return rows / 64 * 64;
}

void StepCostModel::Record(int64_t rows, absl::Duration time) {
  if (rows <= 0) return;
  const double t = absl::ToDoubleSeconds(time);
  auto [it, inserted] = seconds_.emplace(Bucket(rows), t);
  if (!inserted) it->second = (1 - kWeight) * it->second + kWeight * t;
}

double StepCostModel::Seconds(int64_t rows) const {
  if (rows <= 0 || seconds_.empty()) return 0;
  const double x = static_cast<double>(rows);
  auto hi = seconds_.lower_bound(rows);
  if (hi != seconds_.end() && hi->first == rows) return hi->second;
  if (hi == seconds_.end()) {
    // Past the largest measurement: the last slope.
    const auto last = std::prev(seconds_.end());
    if (last == seconds_.begin()) {
      const double per_row =
          last->second * std::min(1.0 / double(last->first), kPriorRowShare);
      return last->second + per_row * (x - last->first);
    }
    const auto before = std::prev(last);
    const double slope = std::max(0.0, (last->second - before->second) /
                                           double(last->first - before->first));
    return last->second + slope * (x - last->first);
  }
  // Between the previous point (or the origin) and `hi`.
  double x0 = 0, y0 = 0;
  if (hi != seconds_.begin()) {
    const auto lo = std::prev(hi);
    x0 = lo->first;
    y0 = lo->second;
  }
  const double f = (x - x0) / (hi->first - x0);
  return y0 + f * (hi->second - y0);
}

std::vector<float> StepCostModel::Marginal(int64_t others, int max_rows) const {
  std::vector<float> out;
  if (seconds_.empty()) return out;
  if (others >= kSmoothFrom) {
    LeastSquares fit;
    for (auto it = seconds_.lower_bound(others / 2);
         it != seconds_.end() && it->first <= 2 * others + max_rows; ++it) {
      fit.Add(static_cast<double>(it->first), it->second);
    }
    if (fit.has_slope()) {
      const double slope = std::max(0.0, fit.slope());
      for (int j = 1; j <= max_rows; ++j) out.push_back(static_cast<float>(slope * j));
      return out;
    }
  }
  const double base = Seconds(others);
  double previous = 0;
  for (int j = 1; j <= max_rows; ++j) {
    // Monotone: more rows never cost less.
    previous = std::max(previous, Seconds(others + j) - base);
    out.push_back(static_cast<float>(previous));
  }
  return out;
}

void BusyFraction::Record(absl::Time start, absl::Time end) {
  if (last_end_ != absl::InfinitePast() && start >= last_end_) {
    const double busy = absl::ToDoubleSeconds(end - start);
    const double idle = absl::ToDoubleSeconds(start - last_end_);
    if (busy + idle > 0) {
      fraction_ = (1 - kWeight) * fraction_ + kWeight * busy / (busy + idle);
    }
  }
  last_end_ = end;
}

void RowShare::Step(int64_t rows) {
  total_ = total_ * kDecay + static_cast<double>(std::max<int64_t>(0, rows));
  ++step_;
}

double RowShare::Own(const Session& session) const {
  if (session.step < 0) return 0;
  return session.rows * std::pow(kDecay, static_cast<double>(step_ - session.step));
}

void RowShare::Add(Session& session, int64_t rows) const {
  session.rows = Own(session) + static_cast<double>(std::max<int64_t>(0, rows));
  session.step = step_;
}

double RowShare::OthersShare(const Session& session) const {
  if (total_ <= 0) return 0;
  return std::clamp(1.0 - Own(session) / total_, 0.0, 1.0);
}

}  // namespace tandem::decoding
