#include "sampling/selector.h"

#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tandem::sampling {
namespace {

at::Tensor ToCpuFloat(const at::Tensor& row) {
  return row.to(at::kCPU, at::kFloat).contiguous();
}

}  // namespace

absl::StatusOr<int64_t> ArgmaxToken(const at::Tensor& logits_row) {
  if (!logits_row.defined() || logits_row.dim() != 1 ||
      logits_row.numel() == 0) {
    return absl::InvalidArgumentError("argmax needs a non-empty 1-D row");
  }
  at::Tensor row = ToCpuFloat(logits_row);
  const float* data = row.data_ptr<float>();
  int64_t best = -1;
  for (int64_t i = 0; i < row.numel(); ++i) {
    if (std::isnan(data[i]) || data[i] == -INFINITY) continue;
    if (best < 0 || data[i] > data[best]) best = i;
  }
  if (best < 0) {
    return absl::InvalidArgumentError(
        "every token is excluded: the processors left no selectable token");
  }
  return best;
}

absl::StatusOr<int64_t> SampleToken(const at::Tensor& weights_row, const Rng& rng,
                                    int64_t position, RandomPurpose purpose) {
  if (!weights_row.defined() || weights_row.dim() != 1 ||
      weights_row.numel() == 0) {
    return absl::InvalidArgumentError("sampling needs a non-empty 1-D row");
  }
  at::Tensor row = ToCpuFloat(weights_row);
  const float* w = row.data_ptr<float>();
  const int64_t n = row.numel();
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (!(w[i] >= 0.0f) || std::isinf(w[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sampling weight ", i, " is ", w[i], "; weights must be finite and >= 0"));
    }
    total += w[i];
  }
  if (!(total > 0.0)) {
    return absl::InvalidArgumentError(
        "every token is excluded: the distribution has no mass");
  }
  const double target = rng.Uniform(position, purpose) * total;
  double cumulative = 0.0;
  int64_t last_positive = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (w[i] <= 0.0f) continue;
    cumulative += w[i];
    last_positive = i;
    if (target < cumulative) return i;
  }
  // Rounding left `target` at the very top: the last token with mass.
  return last_positive;
}

std::vector<TokenLogprob> TopTokens(const at::Tensor& log_probs_row, int64_t n) {
  std::vector<TokenLogprob> out;
  at::Tensor row = ToCpuFloat(log_probs_row);
  n = std::min<int64_t>(n, row.numel());
  if (n <= 0) return out;
  // topk's order among equal values is unspecified; a stable descending sort
  // keeps lower ids first, so the answer does not depend on the kernel.
  at::Tensor order = std::get<1>(row.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const float* values = row.data_ptr<float>();
  const int64_t* ids = order.data_ptr<int64_t>();
  out.reserve(n);
  for (int64_t i = 0; i < row.numel() && static_cast<int64_t>(out.size()) < n; ++i) {
    const float v = values[ids[i]];
    if (std::isnan(v)) continue;
    if (v == -std::numeric_limits<float>::infinity()) break;
    out.push_back({ids[i], static_cast<double>(v)});
  }
  return out;
}

StepResult DescribeToken(const at::Tensor& log_probs_row, int64_t token,
                         int top_n) {
  StepResult result;
  result.token = token;
  at::Tensor row = ToCpuFloat(log_probs_row);
  result.logprob = row.data_ptr<float>()[token];
  result.prob = std::exp(result.logprob);
  if (top_n > 0) {
    const int64_t n = std::min<int64_t>(top_n, row.numel());
    auto [values, indices] = row.topk(n);
    result.top.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      result.top.push_back({indices[i].item<int64_t>(),
                            values[i].item<double>()});
    }
  }
  return result;
}

absl::StatusOr<std::unique_ptr<TokenSelector>> TokenSelector::Create(
    const SamplingParams& params) {
  absl::StatusOr<std::unique_ptr<LogitsProcessorChain>> chain =
      BuildProcessorChain(params);
  if (!chain.ok()) return chain.status();
  return std::unique_ptr<TokenSelector>(
      new TokenSelector(params, *std::move(chain)));
}

absl::StatusOr<at::Tensor> TokenSelector::Process(
    absl::Span<const TokenHistory> histories,
    const at::Tensor& raw_logits) const {
  if (!raw_logits.defined() || raw_logits.dim() != 2) {
    return absl::InvalidArgumentError("logits must be a 2-D [rows, vocab] tensor");
  }
  at::Tensor logits = raw_logits.to(at::kFloat, /*non_blocking=*/false,
                                    /*copy=*/true);
  if (absl::Status s = chain_->Process(histories, logits); !s.ok()) return s;
  return logits;
}

absl::StatusOr<std::vector<StepResult>> TokenSelector::Select(
    absl::Span<const TokenHistory> histories, const at::Tensor& raw_logits,
    absl::Span<Rng* const> rngs, int top_n) const {
  absl::StatusOr<at::Tensor> logits = Process(histories, raw_logits);
  if (!logits.ok()) return logits.status();
  if (!params_.greedy() && rngs.size() != histories.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sampling needs one rng per row: ", histories.size(), " rows, ",
        rngs.size(), " rngs"));
  }
  at::Tensor log_probs = logits->log_softmax(-1);
  std::vector<StepResult> results;
  results.reserve(histories.size());
  for (int64_t r = 0; r < logits->size(0); ++r) {
    absl::StatusOr<int64_t> token =
        params_.greedy() ? ArgmaxToken(logits->select(0, r))
                         : SampleToken(log_probs.select(0, r).exp(), *rngs[r],
                                       static_cast<int64_t>(histories[r].tokens.size()),
                                       RandomPurpose::kSample);
    if (!token.ok()) return token.status();
    results.push_back(DescribeToken(log_probs.select(0, r), *token, top_n));
  }
  return results;
}

}  // namespace tandem::sampling
