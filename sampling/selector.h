#ifndef TANDEM_SAMPLING_SELECTOR_H_
#define TANDEM_SAMPLING_SELECTOR_H_

// Choosing a token from a (processed) distribution, and describing it.

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "sampling/logits_processor.h"
#include "sampling/rng.h"
#include "sampling/sampling_params.h"

namespace tandem::sampling {

struct TokenLogprob {
  int64_t token = 0;
  double logprob = 0.0;
};

// One selected token. prob/logprob are under the distribution it was chosen
// from (after the processors); `top` holds the N most likely alternatives of
// that distribution, most likely first.
struct StepResult {
  int64_t token = 0;
  double prob = 0.0;
  double logprob = 0.0;
  std::vector<TokenLogprob> top;
  // Filled only on request (SessionOptions::distribution_top_n): the most
  // likely tokens of the raw (model) and processed distributions at this
  // position, as TopTokens returns them.
  std::vector<TokenLogprob> raw_distribution;
  std::vector<TokenLogprob> processed_distribution;
};

// Index of the largest entry of a 1-D float row (any device); the lowest index
// wins ties. InvalidArgument if every entry is -inf or NaN.
absl::StatusOr<int64_t> ArgmaxToken(const at::Tensor& logits_row);

// Draws an index with probability proportional to `weights_row` (1-D,
// non-negative, any device; need not sum to 1) using the uniform
// rng.Uniform(position, purpose): the decision about the token at sequence
// position `position`. InvalidArgument if the total weight is not positive
// and finite.
absl::StatusOr<int64_t> SampleToken(const at::Tensor& weights_row, const Rng& rng,
                                    int64_t position, RandomPurpose purpose);

// The min(n, vocab) most likely tokens of the distribution whose
// log-probabilities are `log_probs_row` (1-D, any device), most likely first
// (ties: lower id first); tokens with logprob -inf are left out. n >= 0.
std::vector<TokenLogprob> TopTokens(const at::Tensor& log_probs_row, int64_t n);

// prob, logprob and the top_n alternatives of `token` under the distribution
// whose log-probabilities are `log_probs_row`.
StepResult DescribeToken(const at::Tensor& log_probs_row, int64_t token,
                         int top_n);

// A sampling configuration ready to use: its processor chain plus the
// greedy/stochastic choice. Immutable after Create; thread-compatible.
class TokenSelector {
 public:
  static absl::StatusOr<std::unique_ptr<TokenSelector>> Create(
      const SamplingParams& params);

  const SamplingParams& params() const { return params_; }
  const LogitsProcessorChain& chain() const { return *chain_; }

  // Applies the chain to raw logits [N, V] (copied, converted to float32).
  absl::StatusOr<at::Tensor> Process(absl::Span<const TokenHistory> histories,
                                     const at::Tensor& raw_logits) const;

  // One step for N sequences at once: process raw logits [N, V], then pick
  // row r's token with rngs[r] (argmax when greedy; rngs is then unused and
  // may be empty). top_n >= 0 alternatives are reported per token.
  absl::StatusOr<std::vector<StepResult>> Select(
      absl::Span<const TokenHistory> histories, const at::Tensor& raw_logits,
      absl::Span<Rng* const> rngs, int top_n) const;

 private:
  TokenSelector(SamplingParams params,
                std::unique_ptr<LogitsProcessorChain> chain)
      : params_(std::move(params)), chain_(std::move(chain)) {}

  SamplingParams params_;
  std::unique_ptr<LogitsProcessorChain> chain_;
};

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_SELECTOR_H_
