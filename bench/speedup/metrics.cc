#include "bench/speedup/metrics.h"

#include <algorithm>
#include <cmath>

namespace tandem::bench {

double ExpectedTokensPerRound(double alpha, double gamma) {
  if (gamma <= 0) return 1.0;
  if (alpha >= 1.0) return gamma + 1.0;
  return (1.0 - std::pow(alpha, gamma + 1.0)) / (1.0 - alpha);
}

double LeviathanSpeedup(double alpha, double gamma, double c) {
  return ExpectedTokensPerRound(alpha, gamma) / (gamma * c + 1.0);
}

double RefinedSpeedup(double alpha, double gamma, double c, double verify_ratio) {
  return ExpectedTokensPerRound(alpha, gamma) / (gamma * c + verify_ratio);
}

AcceptanceSummary SummarizeAcceptance(const std::vector<RoundRecord>& rounds) {
  AcceptanceSummary s;
  std::vector<int64_t> accepted_at;
  for (const RoundRecord& r : rounds) {
    if (r.drafted <= 0) continue;
    ++s.rounds;
    s.drafted += r.drafted;
    s.accepted += r.accepted;
    if (r.accepted < r.drafted) ++s.rejections;
    if (static_cast<int>(s.reached_at.size()) < r.drafted) {
      s.reached_at.resize(r.drafted, 0);
      accepted_at.resize(r.drafted, 0);
    }
    // Positions 0..min(accepted, drafted-1) were examined.
    const int examined = std::min(r.accepted + 1, r.drafted);
    for (int i = 0; i < examined; ++i) ++s.reached_at[i];
    for (int i = 0; i < r.accepted; ++i) ++accepted_at[i];
  }
  const int64_t trials = s.accepted + s.rejections;
  s.alpha_mle = trials ? double(s.accepted) / double(trials) : 0.0;
  s.conditional_at.resize(s.reached_at.size());
  for (size_t i = 0; i < s.reached_at.size(); ++i) {
    s.conditional_at[i] = s.reached_at[i] ? double(accepted_at[i]) / s.reached_at[i] : 0.0;
  }
  return s;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * (values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = rank - lo;
  return values[lo] * (1.0 - frac) + values[hi] * frac;
}

std::vector<double> InterTokenLatencies(const std::vector<double>& arrival_s,
                                        const std::vector<int>& counts) {
  std::vector<double> out;
  for (size_t r = 1; r < arrival_s.size() && r < counts.size(); ++r) {
    if (counts[r] <= 0) continue;
    const double gap = (arrival_s[r] - arrival_s[r - 1]) / counts[r];
    for (int i = 0; i < counts[r]; ++i) out.push_back(gap);
  }
  return out;
}

}  // namespace tandem::bench
