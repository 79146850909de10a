#ifndef TANDEM_DECODING_BACKEND_BEAM_SEARCH_H_
#define TANDEM_DECODING_BACKEND_BEAM_SEARCH_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "decoding/backends.h"
#include "sampling/beam_search.h"

namespace tandem::decoding {

struct BackendBeamSearchRequest {
  std::vector<int64_t> prompt;
  SessionOptions session;  // Penalties/constraints apply; temperature is ignored.
  sampling::BeamSearchOptions options;
};

// Beam search over a TargetBackend (in-process or a remote TargetService):
// each live beam owns a target session; every step asks each beam's session
// for its top 2·num_beams next tokens (Score, committing nothing — the global
// top 2·num_beams candidates are always among them, so the step is exact),
// then forks sessions for beams that share a parent. All sessions are closed
// before returning. Returns the best num_return_sequences hypotheses.
absl::StatusOr<std::vector<sampling::Hypothesis>> RunBackendBeamSearch(
    const BackendBeamSearchRequest& request, TargetBackend& target);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_BACKEND_BEAM_SEARCH_H_
