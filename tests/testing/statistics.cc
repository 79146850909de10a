#include "tests/testing/statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"

namespace tandem::testing {
namespace {

// Series for the lower function P(a, x), good for x < a + 1.
double LowerSeries(double a, double x) {
  double term = 1.0 / a;
  double sum = term;
  for (int n = 1; n < 10000; ++n) {
    term *= x / (a + n);
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * 1e-15) break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

// Lentz's continued fraction for Q(a, x), good for x >= a + 1.
double UpperContinuedFraction(double a, double x) {
  constexpr double kTiny = 1e-300;
  double b = x + 1.0 - a;
  double c = 1.0 / kTiny;
  double d = 1.0 / b;
  double h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < 1e-15) break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

}  // namespace

double RegularizedUpperGamma(double a, double x) {
  if (x <= 0.0) return 1.0;
  if (x < a + 1.0) return 1.0 - LowerSeries(a, x);
  return UpperContinuedFraction(a, x);
}

double ChiSquareSurvival(double statistic, int dof) {
  if (dof <= 0) return 1.0;
  return RegularizedUpperGamma(dof / 2.0, statistic / 2.0);
}

std::string GoodnessOfFit::ToString() const {
  return absl::StrCat("chi2=", statistic, " dof=", dof, " p=", p_value,
                      " impossible=", impossible);
}

GoodnessOfFit ChiSquareTest(const std::vector<int64_t>& counts,
                            const std::vector<double>& expected) {
  GoodnessOfFit fit;
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  // Bins expecting fewer than kMinExpected observations make Pearson's
  // statistic unreliable; they are pooled into one bin (and that bin into the
  // smallest regular one if it is still too small).
  constexpr double kMinExpected = 5.0;
  std::vector<double> bin_expected;
  std::vector<double> bin_observed;
  double pooled_expected = 0.0;
  double pooled_observed = 0.0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (expected[i] <= 0.0) {
      fit.impossible += counts[i];
      continue;
    }
    const double e = expected[i] * static_cast<double>(total);
    if (e < kMinExpected) {
      pooled_expected += e;
      pooled_observed += static_cast<double>(counts[i]);
    } else {
      bin_expected.push_back(e);
      bin_observed.push_back(static_cast<double>(counts[i]));
    }
  }
  if (pooled_expected > 0.0) {
    if (pooled_expected >= kMinExpected || bin_expected.empty()) {
      bin_expected.push_back(pooled_expected);
      bin_observed.push_back(pooled_observed);
    } else {
      size_t smallest = 0;
      for (size_t i = 1; i < bin_expected.size(); ++i) {
        if (bin_expected[i] < bin_expected[smallest]) smallest = i;
      }
      bin_expected[smallest] += pooled_expected;
      bin_observed[smallest] += pooled_observed;
    }
  }
  for (size_t i = 0; i < bin_expected.size(); ++i) {
    const double diff = bin_observed[i] - bin_expected[i];
    fit.statistic += diff * diff / bin_expected[i];
  }
  fit.dof = static_cast<int>(bin_expected.size()) - 1;
  fit.p_value = ChiSquareSurvival(fit.statistic, fit.dof);
  return fit;
}

int StatRounds(int default_rounds) {
  const char* env = std::getenv("TANDEM_STAT_ROUNDS");
  if (env == nullptr || *env == '\0') return default_rounds;
  const int rounds = std::clamp(std::atoi(env), std::min(10000, default_rounds), default_rounds);
  std::fprintf(stderr, "statistical tests: %d rounds instead of %d (TANDEM_STAT_ROUNDS)\n", rounds,
               default_rounds);
  return rounds;
}

}  // namespace tandem::testing
