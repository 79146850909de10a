#include "decoding/backend_beam_search.h"

#include <algorithm>
#include <future>
#include <limits>
#include <utility>

#include <ATen/ATen.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace tandem::decoding {
namespace {

struct LiveBeam {
  sampling::Beam beam;
  SessionId session = 0;
  int64_t known = 0;  // Committed tokens the session has seen.
};

// The candidates each scored prefix (generated tokens) got: where every
// token of every beam and hypothesis was chosen from.
using ScoredPrefixes = absl::flat_hash_map<std::vector<int64_t>, std::vector<sampling::TokenLogprob>>;

absl::StatusOr<std::vector<sampling::StepResult>> StepsOf(const ScoredPrefixes& scored,
                                                         const std::vector<int64_t>& tokens,
                                                         size_t from, size_t to, int top_n) {
  std::vector<sampling::StepResult> steps;
  std::vector<int64_t> prefix(tokens.begin(), tokens.begin() + from);
  for (size_t i = from; i < to; ++i) {
    auto it = scored.find(prefix);
    if (it == scored.end()) {
      return absl::InternalError(absl::StrCat("beam search: prefix of length ", i, " was never scored"));
    }
    sampling::StepResult step;
    step.token = tokens[i];
    bool found = false;
    for (const sampling::TokenLogprob& c : it->second) {
      if (c.token == tokens[i]) {
        step.logprob = c.logprob;
        found = true;
        break;
      }
    }
    if (!found) {
      return absl::InternalError(
          absl::StrCat("beam search: token ", tokens[i], " at ", i, " was not a candidate"));
    }
    step.prob = std::exp(step.logprob);
    const size_t n = std::min<size_t>(top_n, it->second.size());
    step.top.assign(it->second.begin(), it->second.begin() + n);
    steps.push_back(std::move(step));
    prefix.push_back(tokens[i]);
  }
  return steps;
}

// The length of the prefix that every live beam and every kept hypothesis
// shares: the returned best sequence starts with it whatever happens next.
size_t CertainPrefix(const std::vector<sampling::Beam>& live,
                     const std::vector<sampling::Hypothesis>& kept) {
  const std::vector<int64_t>* first =
      !live.empty() ? &live.front().tokens : (!kept.empty() ? &kept.front().tokens : nullptr);
  if (first == nullptr) return 0;
  size_t n = first->size();
  auto shrink = [&](const std::vector<int64_t>& t) {
    size_t i = 0;
    while (i < n && i < t.size() && t[i] == (*first)[i]) ++i;
    n = i;
  };
  for (const sampling::Beam& b : live) shrink(b.tokens);
  for (const sampling::Hypothesis& h : kept) shrink(h.tokens);
  return n;
}

}  // namespace

absl::StatusOr<BeamSearchResult> RunBackendBeamSearch(const BackendBeamSearchRequest& request,
                                                      TargetBackend& target) {
  const sampling::BeamSearchOptions& options = request.options;
  if (absl::Status s = sampling::ValidateBeamSearchOptions(options); !s.ok()) return s;
  if (request.top_logprobs < 0 || request.top_logprobs > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("`top_logprobs` must be in [0, 64], got ", request.top_logprobs));
  }
  SessionOptions session = request.session;
  session.params.temperature = 0;
  if (session.max_sequence_length <= 0) {
    session.max_sequence_length =
        std::min(target.Info().context_length,
                 static_cast<int64_t>(request.prompt.size()) + options.max_new_tokens);
  }
  absl::StatusOr<SessionId> root = target.Open(request.prompt, session);
  if (!root.ok()) return root.status();
  std::vector<SessionId> open = {*root};
  auto close_all = [&] {
    for (SessionId id : open) target.Close(id);
  };
  const int64_t vocab = target.Info().vocab_size;
  const int64_t prompt = static_cast<int64_t>(request.prompt.size());
  const int candidates_per_beam = std::max(2 * options.num_beams, request.top_logprobs);
  const bool streaming = request.on_final_tokens && options.num_return_sequences == 1;
  std::vector<LiveBeam> beams = {{sampling::Beam{}, *root, prompt}};
  sampling::BeamHypotheses hypotheses(options);
  ScoredPrefixes scored;
  BeamSearchResult result;
  size_t streamed = 0;
  std::vector<sampling::Beam> last;
  for (int64_t step = 0;; ++step) {
    if (step > 0 && absl::Now() >= request.deadline) {
      result.timed_out = true;
      for (const LiveBeam& b : beams) last.push_back(b.beam);
      break;
    }
    // Score every live beam concurrently (the server batches them).
    std::vector<std::future<absl::StatusOr<std::vector<sampling::TokenLogprob>>>> futures;
    for (LiveBeam& b : beams) {
      SequenceSync sync{b.known, {}};
      const int64_t done = b.known - prompt;
      sync.append.assign(b.beam.tokens.begin() + done, b.beam.tokens.end());
      b.known = prompt + static_cast<int64_t>(b.beam.tokens.size());
      futures.push_back(std::async(std::launch::async,
                                   [&target, id = b.session, sync, candidates_per_beam] {
                                     return target.Score({id, sync, candidates_per_beam});
                                   }));
    }
    at::Tensor log_probs =
        at::full({static_cast<int64_t>(beams.size()), vocab}, -std::numeric_limits<float>::infinity());
    absl::Status failed;
    for (size_t b = 0; b < beams.size(); ++b) {
      auto candidates = futures[b].get();
      if (!candidates.ok()) {
        failed.Update(candidates.status());
        continue;
      }
      for (const sampling::TokenLogprob& c : *candidates) {
        if (c.token >= 0 && c.token < vocab) log_probs[b][c.token] = static_cast<float>(c.logprob);
      }
      scored[beams[b].beam.tokens] = *std::move(candidates);
    }
    if (!failed.ok()) {
      close_all();
      return failed;
    }
    std::vector<sampling::Beam> current;
    for (const LiveBeam& b : beams) current.push_back(b.beam);
    auto next = sampling::BeamSearchStep(current, log_probs, options, hypotheses);
    if (!next.ok()) {
      close_all();
      return next.status();
    }
    if (next->empty()) break;  // Done: the hypotheses hold the answer.
    if (step + 1 == options.max_new_tokens) {
      last = *std::move(next);
      break;
    }
    if (streaming) {
      const size_t certain = CertainPrefix(*next, hypotheses.Sorted());
      if (certain > streamed) {
        absl::StatusOr<std::vector<sampling::StepResult>> steps =
            StepsOf(scored, next->front().tokens, streamed, certain, request.top_logprobs);
        if (!steps.ok()) {
          close_all();
          return steps.status();
        }
        request.on_final_tokens(*steps);
        streamed = certain;
      }
    }
    // The first child of a parent inherits its session; others fork it.
    std::vector<bool> claimed(beams.size(), false);
    std::vector<LiveBeam> following;
    for (sampling::Beam& child : *next) {
      const LiveBeam& parent = beams[child.parent];
      LiveBeam live{std::move(child), parent.session, parent.known};
      if (claimed[live.beam.parent]) {
        absl::StatusOr<SessionId> fork = target.Fork(parent.session, parent.known);
        if (!fork.ok()) {
          close_all();
          return fork.status();
        }
        open.push_back(*fork);
        live.session = *fork;
      }
      claimed[live.beam.parent] = true;
      following.push_back(std::move(live));
    }
    for (size_t b = 0; b < beams.size(); ++b) {
      if (!claimed[b]) {
        target.Close(beams[b].session);
        open.erase(std::find(open.begin(), open.end(), beams[b].session));
      }
    }
    beams = std::move(following);
  }
  close_all();
  for (sampling::Hypothesis& h : sampling::FinalizeBeamSearch(last, options, hypotheses)) {
    absl::StatusOr<std::vector<sampling::StepResult>> steps =
        StepsOf(scored, h.tokens, 0, h.tokens.size(), request.top_logprobs);
    if (!steps.ok()) return steps.status();
    result.sequences.push_back({std::move(h), *std::move(steps)});
  }
  if (streaming && !result.sequences.empty()) {
    const std::vector<sampling::StepResult>& best = result.sequences.front().steps;
    if (best.size() > streamed) {
      request.on_final_tokens(absl::MakeConstSpan(best).subspan(streamed));
    }
  }
  return result;
}

}  // namespace tandem::decoding
