#include "decoding/beam_search_decoder.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "sampling/logits_processor.h"

namespace tandem::decoding {
namespace {

// Releases every sequence it was given when it goes out of scope.
class SequenceReleaser {
 public:
  explicit SequenceReleaser(model::Model& model) : model_(model) {}
  ~SequenceReleaser() {
    for (model::SequenceId id : ids_) model_.Release(id);
  }
  void Track(model::SequenceId id) { ids_.push_back(id); }

 private:
  model::Model& model_;
  std::vector<model::SequenceId> ids_;
};

}  // namespace

absl::StatusOr<std::vector<sampling::Hypothesis>> RunBeamSearch(
    model::Model& model, const BeamSearchRequest& request,
    const std::function<model::SequenceId()>& next_id) {
  const sampling::BeamSearchOptions& options = request.options;
  if (absl::Status s = sampling::ValidateBeamSearchOptions(options); !s.ok()) {
    return s;
  }
  if (request.prompt.empty()) {
    return absl::InvalidArgumentError("beam search needs a non-empty prompt");
  }
  sampling::SamplingParams params = request.params;
  params.temperature = 0.0;  // penalties and constraints only
  auto chain = sampling::BuildProcessorChain(params);
  if (!chain.ok()) return chain.status();

  SequenceReleaser releaser(model);
  const model::SequenceId root = next_id();
  releaser.Track(root);
  absl::StatusOr<at::Tensor> logits =
      model.ForwardOne(root, request.prompt, 0, /*all_logits=*/false);
  if (!logits.ok()) return logits.status();

  std::vector<sampling::Beam> beams = {sampling::Beam{}};
  std::vector<model::SequenceId> sequences = {root};
  sampling::BeamHypotheses hypotheses(options);
  at::Tensor step_logits = *logits;  // [live beams, V]
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    // Per-beam histories for the history-dependent processors.
    std::vector<std::vector<int64_t>> tokens(beams.size(), request.prompt);
    std::vector<sampling::TokenHistory> histories;
    for (size_t b = 0; b < beams.size(); ++b) {
      tokens[b].insert(tokens[b].end(), beams[b].tokens.begin(), beams[b].tokens.end());
    }
    for (const auto& t : tokens) {
      histories.push_back({t, static_cast<int64_t>(request.prompt.size())});
    }
    at::Tensor processed = step_logits.to(at::kFloat, false, true);
    if (absl::Status s = (*chain)->Process(histories, processed); !s.ok()) return s;
    absl::StatusOr<std::vector<sampling::Beam>> next = sampling::BeamSearchStep(
        beams, processed.log_softmax(-1), options, hypotheses);
    if (!next.ok()) return next.status();
    if (next->empty()) return sampling::FinalizeBeamSearch({}, options, hypotheses);
    if (step + 1 == options.max_new_tokens) {
      return sampling::FinalizeBeamSearch(*next, options, hypotheses);
    }
    // Give each new beam a sequence: the first child of a parent inherits
    // its sequence, later children fork it. Forks happen before any append.
    std::vector<bool> claimed(beams.size(), false);
    std::vector<model::SequenceId> next_sequences(next->size());
    const int64_t length = static_cast<int64_t>(request.prompt.size() + beams[0].tokens.size());
    for (size_t i = 0; i < next->size(); ++i) {
      const int64_t parent = (*next)[i].parent;
      if (claimed[parent]) {
        next_sequences[i] = next_id();
        releaser.Track(next_sequences[i]);
        if (absl::Status s = model.Fork(sequences[parent], next_sequences[i], length);
            !s.ok()) {
          return s;
        }
      } else {
        claimed[parent] = true;
        next_sequences[i] = sequences[parent];
      }
    }
    for (size_t b = 0; b < beams.size(); ++b) {
      if (!claimed[b]) model.Release(sequences[b]);
    }
    std::vector<model::ForwardRequest> batch;
    std::vector<int64_t> last(next->size());
    for (size_t i = 0; i < next->size(); ++i) {
      last[i] = (*next)[i].tokens.back();
      batch.push_back({next_sequences[i], absl::MakeConstSpan(&last[i], 1), 0, false});
    }
    absl::StatusOr<std::vector<at::Tensor>> out = model.Forward(batch);
    if (!out.ok()) return out.status();
    step_logits = at::cat(*out, 0);
    beams = *std::move(next);
    sequences = std::move(next_sequences);
  }
  return sampling::FinalizeBeamSearch(beams, options, hypotheses);
}

}  // namespace tandem::decoding
