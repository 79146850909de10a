#include "decoding/draft_steps.h"

#include <algorithm>

namespace tandem::decoding {
namespace {

absl::Status PickNext(const at::Tensor& raw_row, DraftJob& job, Draft& draft) {
  EngineSession& s = *job.session;
  const std::vector<int64_t> history = s.History(draft.tokens);
  const std::vector<sampling::TokenHistory> histories = {{history, s.prompt_length}};
  absl::StatusOr<at::Tensor> processed = s.selector->Process(histories, raw_row);
  if (!processed.ok()) return processed.status();
  if (s.selector->params().greedy() || (job.greedy_first && draft.tokens.empty())) {
    absl::StatusOr<int64_t> token = sampling::ArgmaxToken((*processed)[0]);
    if (!token.ok()) return token.status();
    draft.tokens.push_back(*token);
    draft.dists.push_back(sampling::DraftDistribution::OneHot());
    return absl::OkStatus();
  }
  at::Tensor probs = (*processed)[0].log_softmax(-1).exp();
  absl::StatusOr<int64_t> token = sampling::SampleToken(
      probs, *job.rng, static_cast<int64_t>(history.size()), sampling::RandomPurpose::kDraft);
  if (!token.ok()) return token.status();
  draft.tokens.push_back(*token);
  draft.dists.push_back(sampling::PackDraftDistribution(probs));
  return absl::OkStatus();
}

}  // namespace

std::vector<DraftOutcome> RunDraftSteps(model::Model& model,
                                        std::vector<DraftJob>& jobs) {
  std::vector<DraftOutcome> out(jobs.size());
  int max_gamma = 0;
  for (const DraftJob& j : jobs) max_gamma = std::max(max_gamma, j.gamma);
  for (int step = 0; step < max_gamma; ++step) {
    std::vector<size_t> active;
    std::vector<model::ForwardRequest> batch;
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (step >= jobs[i].gamma || !out[i].status.ok()) continue;
      active.push_back(i);
      absl::Span<const int64_t> tokens =
          step == 0 ? absl::MakeConstSpan(jobs[i].feed)
                    : absl::MakeConstSpan(&out[i].draft.tokens.back(), 1);
      batch.push_back({jobs[i].session->sequence, tokens, jobs[i].exit_layer,
                       /*all_logits=*/false});
    }
    if (batch.empty()) break;
    absl::StatusOr<std::vector<at::Tensor>> logits = model.Forward(batch);
    for (size_t k = 0; k < active.size(); ++k) {
      const size_t i = active[k];
      if (!logits.ok()) {
        out[i].status = logits.status();
        continue;
      }
      out[i].status = PickNext((*logits)[k], jobs[i], out[i].draft);
    }
  }
  return out;
}

}  // namespace tandem::decoding
