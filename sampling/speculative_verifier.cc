#include "sampling/speculative_verifier.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "sampling/verifier_fault.h"

namespace tandem::sampling {
namespace {

absl::Status CheckInputs(const at::Tensor& target_logits,
                         absl::Span<const int64_t> draft_tokens,
                         absl::Span<const DraftDistribution> draft_dists,
                         const VerifyOptions& options) {
  const int64_t gamma = static_cast<int64_t>(draft_tokens.size());
  if (!target_logits.defined() || target_logits.dim() != 2 ||
      target_logits.size(0) != gamma + 1 || target_logits.size(1) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target logits must have shape [", gamma + 1,
        ", vocab] for a draft of ", gamma, " tokens"));
  }
  const int64_t vocab = target_logits.size(1);
  for (int64_t i = 0; i < gamma; ++i) {
    if (draft_tokens[i] < 0 || draft_tokens[i] >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("draft token ", i, " is ", draft_tokens[i],
                       ", outside the vocabulary [0, ", vocab, ")"));
    }
  }
  if (!options.greedy &&
      draft_dists.size() != static_cast<size_t>(gamma)) {
    return absl::InvalidArgumentError(
        absl::StrCat("got ", draft_dists.size(), " draft distributions for ",
                     gamma, " draft tokens"));
  }
  return absl::OkStatus();
}

absl::StatusOr<VerifyResult> VerifyGreedy(const at::Tensor& logits,
                                          const at::Tensor& log_probs,
                                          absl::Span<const int64_t> drafts,
                                          int top_n) {
  VerifyResult result;
  for (int64_t i = 0; i <= static_cast<int64_t>(drafts.size()); ++i) {
    absl::StatusOr<int64_t> best = ArgmaxToken(logits.select(0, i));
    if (!best.ok()) return best.status();
    result.emitted.push_back(DescribeToken(log_probs.select(0, i), *best, top_n));
    if (i == static_cast<int64_t>(drafts.size()) || drafts[i] != *best) break;
    result.accepted_nodes.push_back(static_cast<int32_t>(i));
    ++result.num_accepted;
  }
  return result;
}

}  // namespace

absl::StatusOr<VerifyResult> VerifyDraft(
    const at::Tensor& target_logits, absl::Span<const int64_t> draft_tokens,
    absl::Span<const DraftDistribution> draft_dists,
    const VerifyOptions& options, const Rng& rng, int64_t first_position) {
  if (absl::Status s =
          CheckInputs(target_logits, draft_tokens, draft_dists, options);
      !s.ok()) {
    return s;
  }
  at::Tensor logits = target_logits.to(at::kFloat);
  at::Tensor log_probs = logits.log_softmax(-1);
  if (options.greedy) {
    return VerifyGreedy(logits, log_probs, draft_tokens, options.top_n);
  }
  const int64_t gamma = static_cast<int64_t>(draft_tokens.size());
  const int64_t vocab = logits.size(1);
  at::Tensor probs = log_probs.exp();

  // p_i(x_i) for every draft position in one gather and one device->host copy.
  std::vector<double> p_drafted(gamma);
  if (gamma > 0) {
    at::Tensor ids = at::empty({gamma, 1}, at::kLong);
    std::copy(draft_tokens.begin(), draft_tokens.end(),
              ids.data_ptr<int64_t>());
    at::Tensor gathered =
        probs.narrow(0, 0, gamma)
            .gather(1, ids.to(probs.device()))
            .to(at::kCPU, at::kDouble)
            .contiguous();
    std::copy_n(gathered.data_ptr<double>(), gamma, p_drafted.begin());
  }

  // Kept kNone outside negative-control tests (verifier_fault.h).
  const internal::VerifierFault fault = internal::CurrentVerifierFault();
  VerifyResult result;
  for (int64_t i = 0; i < gamma; ++i) {
    const int64_t x = draft_tokens[i];
    absl::StatusOr<double> q =
        DraftProbability(draft_dists[i], x, x, vocab);
    if (!q.ok()) return q.status();
    if (!(*q > 0.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "draft token ", i, " (", x,
          ") has zero probability under its own draft distribution"));
    }
    const double u = rng.Uniform(first_position + i, RandomPurpose::kAccept);
    const double ratio = fault == internal::VerifierFault::kInvertedAcceptRatio
                             ? *q / p_drafted[i]
                             : p_drafted[i] / *q;
    if (u < ratio) {
      result.emitted.push_back(
          DescribeToken(log_probs.select(0, i), x, options.top_n));
      result.accepted_nodes.push_back(static_cast<int32_t>(i));
      ++result.num_accepted;
      continue;
    }
    // Rejected: resample from the residual norm(max(0, p_i - q_i)).
    at::Tensor residual =
        probs.select(0, i) - DraftDense(draft_dists[i], x, vocab, probs.device());
    if (fault != internal::VerifierFault::kResidualWithoutClamp) {
      residual = residual.clamp_min(0.0);
    }
    absl::StatusOr<int64_t> token =
        SampleToken(residual, rng, first_position + i, RandomPurpose::kResidual);
    if (!token.ok()) {
      // p_i <= q_i everywhere (equal up to rounding): a rejection then has
      // probability ~0; fall back to p_i itself, which is what the residual
      // approaches.
      token = SampleToken(probs.select(0, i), rng, first_position + i, RandomPurpose::kResidual);
      if (!token.ok()) return token.status();
    }
    result.emitted.push_back(
        DescribeToken(log_probs.select(0, i), *token, options.top_n));
    return result;
  }
  absl::StatusOr<int64_t> bonus =
      SampleToken(probs.select(0, gamma), rng, first_position + gamma, RandomPurpose::kSample);
  if (!bonus.ok()) return bonus.status();
  result.emitted.push_back(
      DescribeToken(log_probs.select(0, gamma), *bonus, options.top_n));
  return result;
}

absl::StatusOr<at::Tensor> ProcessDraftPositions(
    const TokenSelector& selector, const TokenHistory& prefix,
    absl::Span<const int64_t> draft_tokens, const at::Tensor& raw_logits) {
  std::vector<int64_t> tokens(prefix.tokens.begin(), prefix.tokens.end());
  tokens.insert(tokens.end(), draft_tokens.begin(), draft_tokens.end());
  std::vector<TokenHistory> histories;
  histories.reserve(draft_tokens.size() + 1);
  const absl::Span<const int64_t> all(tokens);
  for (size_t i = 0; i <= draft_tokens.size(); ++i) {
    histories.push_back(
        {all.first(prefix.tokens.size() + i), prefix.prompt_length});
  }
  return selector.Process(histories, raw_logits);
}

}  // namespace tandem::sampling
