#ifndef TANDEM_DECODING_DRAFT_STEPS_H_
#define TANDEM_DECODING_DRAFT_STEPS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "decoding/engine_session.h"
#include "model/model.h"
#include "sampling/draft_distribution.h"

namespace tandem::decoding {

// A draft of γ tokens with the distributions they were drawn from.
struct Draft {
  std::vector<int64_t> tokens;
  std::vector<sampling::DraftDistribution> dists;
};

struct DraftJob {
  EngineSession* session = nullptr;
  std::vector<int64_t> feed;  // Catch-up tokens, then the pending token.
  int gamma = 0;              // Tokens to draft, >= 0.
  int64_t exit_layer = 0;     // 0: all layers (a draft model); else early exit.
  sampling::Rng* rng = nullptr;  // The session's; drafts draw under kDraft.
  bool greedy_first = false;     // Step 0 takes the argmax even when sampling.
};

struct DraftOutcome {
  absl::Status status;
  Draft draft;
};

// Drafts for several sessions at once: step j runs one batched Model::Forward
// over every job still drafting (step 0 feeds `feed`, later steps the token
// drafted before), then picks each job's next token with its session's
// processors on history committed + drafts so far: argmax with a one-hot
// distribution when greedy (or at step 0 with greedy_first), else a sample
// from exp(log_softmax) with exactly those probabilities packed (sparse or
// dense) for the verifier. The last drafted token is not run through the
// model.
std::vector<DraftOutcome> RunDraftSteps(model::Model& model,
                                        std::vector<DraftJob>& jobs);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_DRAFT_STEPS_H_
