#include "decoding/backend_beam_search.h"

#include <algorithm>
#include <future>
#include <limits>
#include <utility>

#include <ATen/ATen.h>

namespace tandem::decoding {
namespace {

struct LiveBeam {
  sampling::Beam beam;
  SessionId session = 0;
  int64_t known = 0;  // Committed tokens the session has seen.
};

}  // namespace

absl::StatusOr<std::vector<sampling::Hypothesis>> RunBackendBeamSearch(
    const BackendBeamSearchRequest& request, TargetBackend& target) {
  const sampling::BeamSearchOptions& options = request.options;
  if (absl::Status s = sampling::ValidateBeamSearchOptions(options); !s.ok()) return s;
  SessionOptions session = request.session;
  session.params.temperature = 0;
  absl::StatusOr<SessionId> root = target.Open(request.prompt, session);
  if (!root.ok()) return root.status();
  std::vector<SessionId> open = {*root};
  auto close_all = [&] {
    for (SessionId id : open) target.Close(id);
  };
  const int64_t vocab = target.Info().vocab_size;
  const int64_t prompt = static_cast<int64_t>(request.prompt.size());
  std::vector<LiveBeam> beams = {{sampling::Beam{}, *root, prompt}};
  sampling::BeamHypotheses hypotheses(options);
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    // Score every live beam concurrently (the server batches them).
    std::vector<std::future<absl::StatusOr<std::vector<sampling::TokenLogprob>>>> futures;
    for (LiveBeam& b : beams) {
      SequenceSync sync{b.known, {}};
      const int64_t done = b.known - prompt;
      sync.append.assign(b.beam.tokens.begin() + done, b.beam.tokens.end());
      b.known = prompt + static_cast<int64_t>(b.beam.tokens.size());
      futures.push_back(std::async(std::launch::async, [&target, id = b.session, sync, options] {
        return target.Score({id, sync, 2 * options.num_beams});
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
    if (next->empty() || step + 1 == options.max_new_tokens) {
      close_all();
      return sampling::FinalizeBeamSearch(*next, options, hypotheses);
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
  std::vector<sampling::Beam> last;
  for (const LiveBeam& b : beams) last.push_back(b.beam);
  return sampling::FinalizeBeamSearch(last, options, hypotheses);
}

}  // namespace tandem::decoding
