#ifndef TANDEM_DECODING_GENERATOR_H_
#define TANDEM_DECODING_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "decoding/backends.h"
#include "sampling/selector.h"

namespace tandem::decoding {

enum class SpeculationMode {
  kOff,              // Target-only decoding (γ = 0).
  kDraftModel,       // A separate draft model (DraftBackend).
  kSelfSpeculative,  // The target's own first layers (early exit).
  kNgram,            // Prompt lookup, no model.
};

struct SpeculationOptions {
  SpeculationMode mode = SpeculationMode::kOff;
  int draft_length = 4;    // γ, or the starting γ when adaptive.
  bool adaptive = false;
  int max_draft_length = 8;
  int64_t exit_layer = 0;  // Self-speculation; 0 = the model's default.
  int ngram_max = 3;
  int ngram_min = 1;
};

enum class FinishReason { kEos, kStopString, kLength, kMaxTime, kCancelled };
const char* FinishReasonName(FinishReason reason);

struct StopOptions {
  int64_t max_new_tokens = 16;  // >= 1.
  std::vector<int64_t> eos_token_ids;
  absl::Duration max_time = absl::InfiniteDuration();
};

// The metrics named in docs/speculative_decoding.md.
struct SpeculationStats {
  int64_t rounds = 0;  // Target passes.
  int64_t drafted = 0;
  int64_t accepted = 0;
  std::vector<int64_t> drafted_at;   // Per draft position (0-based).
  std::vector<int64_t> accepted_at;
  absl::Duration draft_time;
  absl::Duration verify_time;
  absl::Duration rpc_time;  // Call time minus server time, both directions.
  bool fell_back_to_target_only = false;

  double acceptance_rate() const { return drafted ? double(accepted) / drafted : 0; }
  double mean_accepted_length() const {  // Tokens per target pass.
    return rounds ? 1.0 + double(accepted) / rounds : 0;
  }
};

struct GenerationResult {
  std::vector<sampling::StepResult> tokens;  // Generated tokens (EOS included).
  FinishReason finish = FinishReason::kLength;
  SpeculationStats stats;
  absl::Duration time_to_first_token;
  absl::Duration total_time;
};

// Called with each round's newly committed tokens. Returning a reason stops
// generation with it (stop string found, client cancelled).
using TokenCallback =
    std::function<std::optional<FinishReason>(absl::Span<const sampling::StepResult>)>;

struct GenerateRequest {
  std::vector<int64_t> prompt;
  SessionOptions session;
  StopOptions stop;
  SpeculationOptions speculation;
};

// Runs one sequence to completion: opens sessions on the target (and the
// draft when used), then rounds of draft → one verify pass → commit, until
// EOS, the token budget, max_time or the callback stops it. Every session it
// opened is closed before returning. If the draft backend fails mid-request
// the request continues target-only (same greedy output).
absl::StatusOr<GenerationResult> Generate(const GenerateRequest& request,
                                          TargetBackend& target,
                                          DraftBackend* draft,
                                          const TokenCallback& on_tokens);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_GENERATOR_H_
