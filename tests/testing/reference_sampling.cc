#include "tests/testing/reference_sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>

namespace tandem::testing {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

std::vector<double> Softmax(const std::vector<double>& logits) {
  const double max = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size(), 0.0);
  if (max == kNegInf) return p;
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    p[i] = logits[i] == kNegInf ? 0.0 : std::exp(logits[i] - max);
    total += p[i];
  }
  for (double& x : p) x /= total;
  return p;
}

// Keeps, in `order`, the smallest prefix whose probability mass reaches
// `mass` (at least one token); sets every other logit to -inf.
void KeepPrefixReaching(const std::vector<size_t>& order, const std::vector<double>& probs,
                        double mass, std::vector<double>* logits) {
  double cumulative = 0.0;
  size_t kept = 0;
  while (kept < order.size()) {
    cumulative += probs[order[kept]];
    ++kept;
    if (cumulative >= mass) break;
  }
  for (size_t i = kept; i < order.size(); ++i) (*logits)[order[i]] = kNegInf;
}

std::vector<size_t> Indices(size_t n) {
  std::vector<size_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

void NoRepeatNgram(const std::vector<int64_t>& h, int n, std::vector<double>* logits) {
  if (n <= 0 || h.size() + 1 < static_cast<size_t>(n)) return;
  const size_t len = h.size();
  for (size_t i = 0; i + n <= len; ++i) {
    bool same = true;
    for (int j = 0; j < n - 1; ++j) {
      if (h[i + j] != h[len - (n - 1) + j]) same = false;
    }
    if (same) (*logits)[h[i + n - 1]] = kNegInf;
  }
}

void Warp(const ReferenceParams& p, std::vector<double>* logits) {
  const size_t v = logits->size();
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < v) {
    std::vector<double> sorted = *logits;
    std::sort(sorted.begin(), sorted.end(), std::greater<double>());
    const double kth = sorted[p.top_k - 1];
    for (double& x : *logits) {
      if (x < kth) x = kNegInf;
    }
  }
  if (p.top_p < 1.0) {
    const std::vector<double> probs = Softmax(*logits);
    std::vector<size_t> order = Indices(v);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return probs[a] > probs[b]; });
    KeepPrefixReaching(order, probs, p.top_p, logits);
  }
  if (p.min_p > 0.0) {
    const std::vector<double> probs = Softmax(*logits);
    const double max = *std::max_element(probs.begin(), probs.end());
    for (size_t i = 0; i < v; ++i) {
      if (probs[i] < p.min_p * max) (*logits)[i] = kNegInf;
    }
  }
  if (p.typical_p < 1.0) {
    const std::vector<double> probs = Softmax(*logits);
    double entropy = 0.0;
    for (double x : probs) {
      if (x > 0.0) entropy -= x * std::log(x);
    }
    std::vector<double> distance(v, std::numeric_limits<double>::infinity());
    for (size_t i = 0; i < v; ++i) {
      if (probs[i] > 0.0) distance[i] = std::fabs(-std::log(probs[i]) - entropy);
    }
    std::vector<size_t> order = Indices(v);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return distance[a] < distance[b]; });
    KeepPrefixReaching(order, probs, p.typical_p, logits);
  }
}

}  // namespace

std::vector<double> ReferenceNextTokenDistribution(const std::vector<float>& raw_logits,
                                                   const std::vector<int64_t>& history,
                                                   int64_t prompt_length,
                                                   const ReferenceParams& p) {
  std::vector<double> logits(raw_logits.begin(), raw_logits.end());
  for (const auto& [token, bias] : p.logit_bias) logits[token] += bias;
  for (int64_t token : p.banned) logits[token] = kNegInf;
  const int64_t generated = static_cast<int64_t>(history.size()) - prompt_length;
  if (generated < p.min_new_tokens) {
    for (int64_t eos : p.eos_ids) logits[eos] = kNegInf;
  }
  NoRepeatNgram(history, p.no_repeat_ngram_size, &logits);
  if (p.repetition_penalty != 1.0) {
    for (int64_t token : std::set<int64_t>(history.begin(), history.end())) {
      double& x = logits[token];
      if (x == kNegInf) continue;
      x = x > 0.0 ? x / p.repetition_penalty : x * p.repetition_penalty;
    }
  }
  std::map<int64_t, int> counts;
  for (size_t i = prompt_length; i < history.size(); ++i) ++counts[history[i]];
  for (const auto& [token, count] : counts) {
    logits[token] -= p.presence_penalty + p.frequency_penalty * count;
  }
  for (double& x : logits) x /= p.temperature;
  Warp(p, &logits);
  return Softmax(logits);
}

std::vector<double> ReferenceJointOfThree(const std::vector<int64_t>& prompt, int64_t vocab_size,
                                          const ReferenceParams& params,
                                          const RawLogitsFn& raw_logits) {
  const int64_t v = vocab_size;
  const int64_t prompt_length = static_cast<int64_t>(prompt.size());
  auto next = [&](const std::vector<int64_t>& sequence) {
    return ReferenceNextTokenDistribution(raw_logits(sequence), sequence, prompt_length, params);
  };
  std::vector<double> joint(v * v * v, 0.0);
  std::vector<int64_t> s = prompt;
  const std::vector<double> p1 = next(s);
  for (int64_t a = 0; a < v; ++a) {
    if (p1[a] == 0.0) continue;
    s.push_back(a);
    const std::vector<double> p2 = next(s);
    for (int64_t b = 0; b < v; ++b) {
      if (p2[b] == 0.0) continue;
      s.push_back(b);
      const std::vector<double> p3 = next(s);
      for (int64_t c = 0; c < v; ++c) joint[(a * v + b) * v + c] = p1[a] * p2[b] * p3[c];
      s.pop_back();
    }
    s.pop_back();
  }
  return joint;
}

}  // namespace tandem::testing
