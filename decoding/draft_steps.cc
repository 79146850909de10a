#include "decoding/draft_steps.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace tandem::decoding {
namespace {

// Alternatives to `chosen` at one drafted position: the `count` most likely
// tokens other than it, with nonzero probability, best first. They may
// depend on the chosen token: each is a fixed (one-hot) proposal given the
// tokens tried before it, which keeps verification exact
// (sampling/tree_verifier.h).
std::vector<int64_t> Alternatives(const at::Tensor& processed_row, int64_t chosen, int count) {
  const int64_t k = std::min<int64_t>(count + 1, processed_row.size(0));
  const at::Tensor row = processed_row.to(at::kCPU, at::kFloat);
  const auto top = row.topk(k);
  const at::Tensor values = std::get<0>(top).contiguous();
  const at::Tensor ids = std::get<1>(top).contiguous();
  std::vector<int64_t> out;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t id = ids.data_ptr<int64_t>()[i];
    if (id == chosen || !std::isfinite(values.data_ptr<float>()[i])) continue;
    if (static_cast<int>(out.size()) < count) out.push_back(id);
  }
  return out;
}

// The chain's next token; its alternatives go to `alternatives` (parent:
// the chain token before it, or -1).
absl::Status PickNext(const at::Tensor& raw_row, DraftJob& job, Draft& draft,
                      Draft& alternatives) {
  EngineSession& s = *job.session;
  const std::vector<int64_t> history = s.History(draft.tokens);
  const std::vector<sampling::TokenHistory> histories = {{history, s.prompt_length}};
  absl::StatusOr<at::Tensor> processed = s.selector->Process(histories, raw_row);
  if (!processed.ok()) return processed.status();
  const bool guess = job.greedy_first && draft.tokens.empty();
  const bool greedy = s.selector->params().greedy();
  if (job.top_logprobs > 0) {
    const at::Tensor log_probs = (*processed)[0].to(at::kCPU, at::kFloat).log_softmax(-1);
    const int64_t k = std::min<int64_t>(job.top_logprobs, log_probs.size(0));
    const auto top = log_probs.topk(k);
    const at::Tensor values = std::get<0>(top).contiguous();
    const at::Tensor ids = std::get<1>(top).contiguous();
    std::vector<sampling::TokenLogprob> candidates;
    for (int64_t i = 0; i < k && std::isfinite(values.data_ptr<float>()[i]); ++i) {
      candidates.push_back({ids.data_ptr<int64_t>()[i], values.data_ptr<float>()[i]});
    }
    draft.candidates.push_back(std::move(candidates));
  }
  if (greedy || guess) {
    absl::StatusOr<int64_t> token = sampling::ArgmaxToken((*processed)[0]);
    if (!token.ok()) return token.status();
    draft.tokens.push_back(*token);
    draft.dists.push_back(sampling::DraftDistribution::OneHot());
  } else {
    at::Tensor probs = (*processed)[0].log_softmax(-1).exp();
    absl::StatusOr<int64_t> token = sampling::SampleToken(
        probs, *job.rng, static_cast<int64_t>(history.size()), sampling::RandomPurpose::kDraft);
    if (!token.ok()) return token.status();
    draft.tokens.push_back(*token);
    draft.dists.push_back(sampling::PackDraftDistribution(probs));
  }
  const int proposed = static_cast<int>(draft.tokens.size()) - (job.greedy_first ? 1 : 0);
  if (guess || job.tree_alternatives <= 0 || proposed > job.tree_depth) return absl::OkStatus();
  const int32_t parent = static_cast<int32_t>(draft.tokens.size()) - 2;
  for (int64_t t : Alternatives((*processed)[0], draft.tokens.back(), job.tree_alternatives)) {
    alternatives.tokens.push_back(t);
    alternatives.dists.push_back(sampling::DraftDistribution::OneHot());
    alternatives.parents.push_back(parent);
  }
  return absl::OkStatus();
}

}  // namespace

size_t Draft::chain_length() const {
  if (parents.empty()) return tokens.size();
  size_t n = 0;
  while (n < parents.size() && parents[n] == static_cast<int32_t>(n) - 1) ++n;
  return n;
}

std::vector<int64_t> Draft::chain() const {
  return {tokens.begin(), tokens.begin() + chain_length()};
}

Draft Draft::Slice(size_t skip, size_t take) const {
  const size_t chain = chain_length();
  take = std::min(take, chain > skip ? chain - skip : 0);
  Draft out;
  for (size_t i = skip; i < skip + take; ++i) {
    out.tokens.push_back(tokens[i]);
    if (i < dists.size()) out.dists.push_back(dists[i]);
    if (i < candidates.size()) out.candidates.push_back(candidates[i]);
    if (is_tree()) out.parents.push_back(static_cast<int32_t>(i - skip) - 1);
  }
  for (size_t i = chain; i < parents.size(); ++i) {
    // An alternative's sibling is chain token parents[i] + 1.
    const int64_t sibling = static_cast<int64_t>(parents[i]) + 1;
    if (sibling < static_cast<int64_t>(skip) || sibling >= static_cast<int64_t>(skip + take)) {
      continue;
    }
    out.tokens.push_back(tokens[i]);
    if (i < dists.size()) out.dists.push_back(dists[i]);
    out.parents.push_back(static_cast<int32_t>(sibling - static_cast<int64_t>(skip)) - 1);
  }
  if (out.parents.size() == out.chain_length()) out.parents.clear();  // Just a chain.
  return out;
}

namespace {

// Appends the alternatives after the chain, making the draft a tree.
void AppendAlternatives(Draft& draft, Draft& alternatives) {
  if (alternatives.tokens.empty()) return;
  draft.parents.clear();
  for (size_t i = 0; i < draft.tokens.size(); ++i) {
    draft.parents.push_back(static_cast<int32_t>(i) - 1);
  }
  for (size_t i = 0; i < alternatives.tokens.size(); ++i) {
    draft.tokens.push_back(alternatives.tokens[i]);
    draft.dists.push_back(std::move(alternatives.dists[i]));
    draft.parents.push_back(alternatives.parents[i]);
  }
}

}  // namespace

std::vector<DraftOutcome> RunDraftSteps(model::Model& model,
                                        std::vector<DraftJob>& jobs) {
  std::vector<DraftOutcome> out(jobs.size());
  std::vector<Draft> alternatives(jobs.size());
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
      out[i].status = PickNext((*logits)[k], jobs[i], out[i].draft, alternatives[i]);
    }
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (out[i].status.ok()) AppendAlternatives(out[i].draft, alternatives[i]);
  }
  return out;
}

}  // namespace tandem::decoding
