#include "sampling/beam_search.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tandem::sampling {

absl::Status ValidateBeamSearchOptions(const BeamSearchOptions& o) {
  if (o.num_beams < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("`num_beams` must be >= 1, got ", o.num_beams));
  }
  if (o.num_return_sequences < 1 || o.num_return_sequences > o.num_beams) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`num_return_sequences` must be in [1, num_beams=", o.num_beams,
        "], got ", o.num_return_sequences));
  }
  if (!std::isfinite(o.length_penalty)) {
    return absl::InvalidArgumentError("`length_penalty` must be finite");
  }
  if (o.max_new_tokens < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`max_new_tokens` must be >= 1, got ", o.max_new_tokens));
  }
  return absl::OkStatus();
}

BeamHypotheses::BeamHypotheses(const BeamSearchOptions& options)
    : options_(options) {}

double BeamHypotheses::Score(double sum_logprobs, int64_t length) const {
  return sum_logprobs /
         std::pow(static_cast<double>(std::max<int64_t>(length, 1)),
                  options_.length_penalty);
}

void BeamHypotheses::Add(std::vector<int64_t> tokens, double sum_logprobs) {
  const double score =
      Score(sum_logprobs, static_cast<int64_t>(tokens.size()));
  const size_t capacity = static_cast<size_t>(options_.num_beams);
  if (hypotheses_.size() >= capacity && score <= worst_score_) return;
  hypotheses_.push_back({std::move(tokens), sum_logprobs, score});
  if (hypotheses_.size() > capacity) {
    auto worst = std::min_element(
        hypotheses_.begin(), hypotheses_.end(),
        [](const Hypothesis& a, const Hypothesis& b) { return a.score < b.score; });
    hypotheses_.erase(worst);
  }
  worst_score_ = 1e9;
  for (const Hypothesis& h : hypotheses_) {
    worst_score_ = std::min(worst_score_, h.score);
  }
}

bool BeamHypotheses::IsDone(double best_live_sum_logprobs,
                            int64_t length) const {
  if (hypotheses_.size() < static_cast<size_t>(options_.num_beams)) {
    return false;
  }
  switch (options_.early_stopping) {
    case EarlyStopping::kTrue:
      return true;
    case EarlyStopping::kHeuristic:
      return worst_score_ >= Score(best_live_sum_logprobs, length);
    case EarlyStopping::kNever: {
      // With a positive penalty a longer sequence scores higher (log-probs are
      // negative), so the best attainable score is at the maximum length.
      const int64_t best_length =
          options_.length_penalty > 0 ? options_.max_new_tokens : length;
      return worst_score_ >= Score(best_live_sum_logprobs, best_length);
    }
  }
  return false;
}

std::vector<Hypothesis> BeamHypotheses::Sorted() const {
  std::vector<Hypothesis> sorted = hypotheses_;
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
  return sorted;
}

absl::StatusOr<std::vector<Beam>> BeamSearchStep(
    const std::vector<Beam>& beams, const at::Tensor& log_probs,
    const BeamSearchOptions& options, BeamHypotheses& hypotheses) {
  if (absl::Status s = ValidateBeamSearchOptions(options); !s.ok()) return s;
  const int64_t num_live = static_cast<int64_t>(beams.size());
  if (num_live < 1 || num_live > options.num_beams || log_probs.dim() != 2 ||
      log_probs.size(0) != num_live) {
    return absl::InvalidArgumentError(absl::StrCat(
        "beam step needs 1..num_beams live beams and log_probs of shape [",
        num_live, ", vocab]"));
  }
  const int64_t vocab = log_probs.size(1);
  at::Tensor base = at::empty({num_live, 1}, at::kDouble);
  for (int64_t b = 0; b < num_live; ++b) {
    base[b][0] = beams[b].sum_logprobs;
  }
  at::Tensor scores =
      (log_probs.to(at::kCPU, at::kDouble) + base).reshape({-1});
  const int64_t k = std::min<int64_t>(2 * options.num_beams, scores.numel());
  auto [top_scores, top_index] = scores.topk(k);
  const double* s = top_scores.data_ptr<double>();
  const int64_t* idx = top_index.data_ptr<int64_t>();
  const int64_t length = static_cast<int64_t>(beams[0].tokens.size()) + 1;

  std::vector<Beam> next;
  for (int64_t rank = 0; rank < k; ++rank) {
    if (!std::isfinite(s[rank])) break;
    const int64_t beam = idx[rank] / vocab;
    const int64_t token = idx[rank] % vocab;
    Beam extended{beams[beam].tokens, s[rank], beam};
    extended.tokens.push_back(token);
    const bool ends =
        std::find(options.eos_token_ids.begin(), options.eos_token_ids.end(),
                  token) != options.eos_token_ids.end() ||
        (options.ends_hypothesis && options.ends_hypothesis(extended.tokens));
    if (ends) {
      if (rank >= options.num_beams) continue;
      hypotheses.Add(std::move(extended.tokens), s[rank]);
      continue;
    }
    next.push_back(std::move(extended));
    if (static_cast<int>(next.size()) == options.num_beams) break;
  }
  if (next.empty() || hypotheses.IsDone(s[0], length)) return std::vector<Beam>();
  return next;
}

std::vector<Hypothesis> FinalizeBeamSearch(const std::vector<Beam>& beams,
                                           const BeamSearchOptions& options,
                                           BeamHypotheses& hypotheses) {
  for (const Beam& beam : beams) hypotheses.Add(beam.tokens, beam.sum_logprobs);
  std::vector<Hypothesis> sorted = hypotheses.Sorted();
  if (sorted.size() > static_cast<size_t>(options.num_return_sequences)) {
    sorted.resize(options.num_return_sequences);
  }
  return sorted;
}

}  // namespace tandem::sampling
