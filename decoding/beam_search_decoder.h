#ifndef TANDEM_DECODING_BEAM_SEARCH_DECODER_H_
#define TANDEM_DECODING_BEAM_SEARCH_DECODER_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"
#include "sampling/beam_search.h"
#include "sampling/sampling_params.h"

namespace tandem::decoding {

struct BeamSearchRequest {
  std::vector<int64_t> prompt;  // Non-empty.
  sampling::BeamSearchOptions options;
  // Penalties / constraints applied to each beam's logits before scoring
  // (temperature and truncation warpers are ignored, as in Hugging Face).
  sampling::SamplingParams params;
};

// Runs beam search over `model`. Each live beam owns one model sequence; a
// beam that continues a parent already claimed by a sibling gets a Fork of
// the parent's cache, so no prefix is recomputed. `next_id` hands out unused
// sequence ids. Every sequence it created is released before returning, also
// on error. Returns the best options.num_return_sequences hypotheses, best
// first (tokens are the generated tokens only, EOS included when reached).
absl::StatusOr<std::vector<sampling::Hypothesis>> RunBeamSearch(
    model::Model& model, const BeamSearchRequest& request,
    const std::function<model::SequenceId()>& next_id);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_BEAM_SEARCH_DECODER_H_
