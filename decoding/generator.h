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
#include "decoding/speculation_options.h"
#include "sampling/selector.h"

namespace tandem::decoding {

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
  // Rounds that verified no draft: γ = 0 chosen (adaptive back-off, budget)
  // or nothing proposed (no n-gram match, a fallen-back draft service).
  int64_t plain_rounds = 0;
  int64_t drafted = 0;
  int64_t accepted = 0;
  std::vector<int64_t> drafted_at;   // Per draft position (0-based).
  std::vector<int64_t> accepted_at;
  absl::Duration draft_time;
  absl::Duration verify_time;
  absl::Duration rpc_time;  // Call time minus server time, both directions.
  bool fell_back_to_target_only = false;
  // Pipelined drafting (draft model): rounds drafted ahead while the
  // previous round was verified, how many of those were used (the draft was
  // ready when the round began), and the drafting time that overlapped
  // verification. draft_time counts only the drafting the loop waited for
  // (exposed).
  int64_t pre_drafts = 0;
  int64_t pre_draft_hits = 0;
  absl::Duration draft_time_hidden;
  // Token trees: alternatives drafted beside the chains (`drafted` counts
  // chain tokens only), and rounds whose accepted path took one.
  int64_t tree_alternatives = 0;
  int64_t tree_alternative_hits = 0;

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

// Runs one sequence to completion: opens a session on the target and the
// request's Drafter (drafter.h: MakeDrafter picks the strategy), then rounds
// of draft → one verify pass → commit, until EOS, the token budget,
// max_time or the callback stops it. Every session it opened is closed
// before returning. If the draft backend fails mid-request the request
// continues target-only (same greedy output).
absl::StatusOr<GenerationResult> Generate(const GenerateRequest& request,
                                          TargetBackend& target,
                                          DraftBackend* draft,
                                          const TokenCallback& on_tokens);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_GENERATOR_H_
