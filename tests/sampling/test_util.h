#ifndef TANDEM_TESTS_SAMPLING_TEST_UTIL_H_
#define TANDEM_TESTS_SAMPLING_TEST_UTIL_H_

#include <cmath>
#include <random>
#include <vector>

#include <ATen/ATen.h>

#include "sampling/token_history.h"

namespace tandem::sampling::testing {

// A [1, V] float row of log(probs) (log(0) = -inf).
inline at::Tensor LogRow(const std::vector<double>& probs) {
  at::Tensor row = at::empty({1, static_cast<int64_t>(probs.size())}, at::kFloat);
  for (size_t i = 0; i < probs.size(); ++i) {
    row[0][i] = static_cast<float>(std::log(probs[i]));
  }
  return row;
}

inline at::Tensor Row(const std::vector<float>& values) {
  at::Tensor row = at::empty({1, static_cast<int64_t>(values.size())}, at::kFloat);
  for (size_t i = 0; i < values.size(); ++i) row[0][i] = values[i];
  return row;
}

inline std::vector<double> ToVector(const at::Tensor& t) {
  at::Tensor flat = t.reshape({-1}).to(at::kDouble).contiguous();
  return std::vector<double>(flat.data_ptr<double>(),
                             flat.data_ptr<double>() + flat.numel());
}

inline std::vector<double> Softmax(const at::Tensor& logits) {
  return ToVector(logits.softmax(-1));
}

// Rows of probabilities [rows][V] as float log-probability logits [rows, V].
inline at::Tensor ToLogits(const std::vector<std::vector<double>>& rows) {
  at::Tensor t = at::empty({static_cast<int64_t>(rows.size()),
                            static_cast<int64_t>(rows[0].size())}, at::kFloat);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t v = 0; v < rows[r].size(); ++v) {
      t[r][v] = static_cast<float>(std::log(rows[r][v]));
    }
  }
  return t;
}

// A random distribution over `vocab` tokens: softmax of N(0, spread) draws.
inline std::vector<double> RandomDist(std::mt19937_64& gen, int vocab, double spread) {
  std::normal_distribution<double> normal(0.0, spread);
  std::vector<double> d(vocab);
  double total = 0;
  for (double& x : d) total += (x = std::exp(normal(gen)));
  for (double& x : d) x /= total;
  return d;
}

// Histories for a single row with no tokens.
inline std::vector<TokenHistory> NoHistory(size_t rows = 1) {
  return std::vector<TokenHistory>(rows);
}

}  // namespace tandem::sampling::testing

#endif  // TANDEM_TESTS_SAMPLING_TEST_UTIL_H_
