#ifndef TANDEM_BENCH_SPEEDUP_METRICS_H_
#define TANDEM_BENCH_SPEEDUP_METRICS_H_

// Pure arithmetic for the speedup benchmark: Leviathan's model, acceptance
// statistics from per-round records, percentiles. No model or gRPC deps.

#include <cstdint>
#include <vector>

namespace tandem::bench {

// One verify round as seen by the generation loop.
struct RoundRecord {
  int drafted = 0;
  int accepted = 0;
  int emitted = 0;
  double draft_call_s = 0;    // Propose / DraftEarlyExit wall time (0 for n-gram).
  double draft_server_s = 0;  // Server-side time of that call (gRPC only).
  double verify_call_s = 0;
  double verify_server_s = 0;
};

// Expected tokens per target pass for iid acceptance probability alpha:
// (1 - alpha^(gamma+1)) / (1 - alpha). gamma may be fractional (adaptive).
double ExpectedTokensPerRound(double alpha, double gamma);

// Leviathan et al. (2023), Theorem 3.8: verifying gamma+1 tokens costs one
// target step. S = (1 - a^(g+1)) / ((1 - a)(g c + 1)).
double LeviathanSpeedup(double alpha, double gamma, double c);

// The same with the measured verify cost: S = E / (g c + r), where r is the
// cost of a (g+1)-token target pass relative to a 1-token pass.
double RefinedSpeedup(double alpha, double gamma, double c, double verify_ratio);

struct AcceptanceSummary {
  int64_t rounds = 0;          // Rounds that verified >= 1 drafted token.
  int64_t drafted = 0;
  int64_t accepted = 0;
  int64_t rejections = 0;      // Rounds that ended at a rejected draft.
  // Maximum-likelihood iid per-token acceptance probability: every examined
  // draft position is a Bernoulli(alpha) trial that stops at the first
  // failure, so alpha = accepted / (accepted + rejections).
  double alpha_mle = 0;
  // P(accept position i | positions < i accepted and i drafted).
  std::vector<double> conditional_at;
  std::vector<int64_t> reached_at;
};
AcceptanceSummary SummarizeAcceptance(const std::vector<RoundRecord>& rounds);

// Linear-interpolated percentile (p in [0, 100]); 0 for an empty vector.
double Percentile(std::vector<double> values, double p);

// Inter-token latencies from per-round arrivals: the tokens of round r
// (arriving together at arrival_s[r], counts[r] of them) are spread evenly
// over the gap since round r-1. The first round's tokens are left out (time
// to first token covers them).
std::vector<double> InterTokenLatencies(const std::vector<double>& arrival_s,
                                        const std::vector<int>& counts);

}  // namespace tandem::bench

#endif  // TANDEM_BENCH_SPEEDUP_METRICS_H_
