#include "sampling/warpers.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace tandem::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Keeps, per row, the shortest prefix of `sorted_probs` (descending order of
// preference) whose cumulative mass reaches `mass`, and masks the rest of
// `logits` (scattered back through `sorted_index`). The first entry is always
// kept.
void KeepMassPrefix(const at::Tensor& sorted_probs,
                    const at::Tensor& sorted_index, double mass,
                    at::Tensor& logits) {
  at::Tensor cumulative = sorted_probs.cumsum(/*dim=*/-1);
  // Entry j is removed when the mass before it already reaches `mass`.
  at::Tensor before = cumulative - sorted_probs;
  at::Tensor remove_sorted = before >= mass;
  remove_sorted.select(/*dim=*/1, /*index=*/0).fill_(false);
  at::Tensor remove = at::zeros_like(remove_sorted).scatter(
      /*dim=*/1, sorted_index, remove_sorted);
  logits.masked_fill_(remove, kNegInf);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TemperatureProcessor>>
TemperatureProcessor::Create(double temperature) {
  if (!std::isfinite(temperature) || temperature <= 0.0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "temperature must be finite and > 0 for sampling (0 selects greedy), "
        "got ",
        temperature));
  }
  return std::unique_ptr<TemperatureProcessor>(
      new TemperatureProcessor(temperature));
}

absl::Status TemperatureProcessor::Process(
    absl::Span<const TokenHistory> histories, at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  logits.div_(temperature_);
  return absl::OkStatus();
}

std::string TemperatureProcessor::Name() const {
  return absl::StrCat("temperature(", temperature_, ")");
}

absl::StatusOr<std::unique_ptr<TopKProcessor>> TopKProcessor::Create(
    int64_t k) {
  if (k < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k must be >= 1 (0 disables it), got ", k));
  }
  return std::unique_ptr<TopKProcessor>(new TopKProcessor(k));
}

absl::Status TopKProcessor::Process(absl::Span<const TokenHistory> histories,
                                    at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  if (k_ >= logits.size(1)) return absl::OkStatus();
  at::Tensor kth = std::get<0>(logits.topk(k_, /*dim=*/-1))
                       .select(/*dim=*/1, k_ - 1)
                       .unsqueeze(1);
  logits.masked_fill_(logits < kth, kNegInf);
  return absl::OkStatus();
}

std::string TopKProcessor::Name() const {
  return absl::StrCat("top_k(", k_, ")");
}

absl::StatusOr<std::unique_ptr<TopPProcessor>> TopPProcessor::Create(
    double p) {
  if (!(p > 0.0 && p <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_p must be > 0 and <= 1, got ", p));
  }
  return std::unique_ptr<TopPProcessor>(new TopPProcessor(p));
}

absl::Status TopPProcessor::Process(absl::Span<const TokenHistory> histories,
                                    at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  if (p_ >= 1.0) return absl::OkStatus();
  // Fast path: the nucleus usually lies within the few hundred most likely
  // tokens. Sorting only the top kCandidates gives the same kept set as a
  // full sort whenever their mass reaches p in every row.
  constexpr int64_t kCandidates = 256;
  const int64_t vocab = logits.size(1);
  if (vocab > kCandidates) {
    auto [top_logits, top_index] = logits.topk(kCandidates, -1, /*largest=*/true, /*sorted=*/true);
    at::Tensor top_probs = (top_logits - logits.logsumexp(-1, /*keepdim=*/true)).exp();
    if (top_probs.sum(-1).min().item<double>() >= p_) {
      at::Tensor before = top_probs.cumsum(-1) - top_probs;
      at::Tensor keep = before < p_;
      keep.select(1, 0).fill_(true);
      at::Tensor kept_logits = top_logits.masked_fill(keep.logical_not(), kNegInf);
      logits.fill_(kNegInf).scatter_(1, top_index, kept_logits);
      return absl::OkStatus();
    }
  }
  auto [sorted_logits, sorted_index] =
      logits.sort(/*dim=*/-1, /*descending=*/true);
  KeepMassPrefix(sorted_logits.softmax(-1), sorted_index, p_, logits);
  return absl::OkStatus();
}

std::string TopPProcessor::Name() const {
  return absl::StrCat("top_p(", p_, ")");
}

absl::StatusOr<std::unique_ptr<MinPProcessor>> MinPProcessor::Create(
    double min_p) {
  if (!(min_p >= 0.0 && min_p <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_p must be >= 0 and <= 1, got ", min_p));
  }
  return std::unique_ptr<MinPProcessor>(new MinPProcessor(min_p));
}

absl::Status MinPProcessor::Process(absl::Span<const TokenHistory> histories,
                                    at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  if (min_p_ <= 0.0) return absl::OkStatus();
  // p_i >= min_p * p_max  <=>  logit_i >= logit_max + log(min_p).
  at::Tensor max_logit = std::get<0>(logits.max(/*dim=*/-1, /*keepdim=*/true));
  logits.masked_fill_(logits < max_logit + std::log(min_p_), kNegInf);
  return absl::OkStatus();
}

std::string MinPProcessor::Name() const {
  return absl::StrCat("min_p(", min_p_, ")");
}

absl::StatusOr<std::unique_ptr<TypicalPProcessor>> TypicalPProcessor::Create(
    double p) {
  if (!(p > 0.0 && p <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("typical_p must be > 0 and <= 1, got ", p));
  }
  return std::unique_ptr<TypicalPProcessor>(new TypicalPProcessor(p));
}

absl::Status TypicalPProcessor::Process(
    absl::Span<const TokenHistory> histories, at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  if (p_ >= 1.0) return absl::OkStatus();
  at::Tensor log_probs = logits.log_softmax(-1);
  at::Tensor probs = log_probs.exp();
  // Entropy; 0 * -inf terms are dropped.
  at::Tensor entropy =
      -(probs * log_probs).nan_to_num(0.0).sum(/*dim=*/-1, /*keepdim=*/true);
  at::Tensor surprise_gap = (-log_probs - entropy).abs();
  auto [sorted_gap, sorted_index] = surprise_gap.sort(/*dim=*/-1);
  KeepMassPrefix(probs.gather(/*dim=*/1, sorted_index), sorted_index, p_,
                 logits);
  return absl::OkStatus();
}

std::string TypicalPProcessor::Name() const {
  return absl::StrCat("typical_p(", p_, ")");
}

}  // namespace tandem::sampling
