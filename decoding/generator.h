#ifndef TANDEM_DECODING_GENERATOR_H_
#define TANDEM_DECODING_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
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

class Drafter;
class TargetSession;
class DraftLengthPolicy;
class TreeShapePolicy;

// One sequence's generation, resumable round by round, so that a fixed pool
// of threads can drive many sequences (round_pool.h) instead of one thread
// each: Start opens a session on the target and the request's Drafter
// (drafter.h: MakeDrafter picks the strategy); each Round runs draft → one
// verify pass → commit; the loop is done at EOS, the token budget,
// max_time, or when the callback stops it. If the draft backend fails
// mid-request the sequence continues target-only (same greedy output).
// Every session it opened is closed when the loop is destroyed.
//
// Thread-compatible: one thread at a time (rounds may run on different
// threads one after another).
class GenerationLoop {
 public:
  // Errors: InvalidArgument (max_new_tokens < 1), FailedPrecondition
  // (DRAFT_MODEL without a draft backend), and whatever opening the
  // sessions returns. `target`, `draft` (may be null) and `on_tokens`'s
  // captures must outlive the loop.
  static absl::StatusOr<std::unique_ptr<GenerationLoop>> Start(GenerateRequest request,
                                                               TargetBackend& target,
                                                               DraftBackend* draft,
                                                               TokenCallback on_tokens);
  ~GenerationLoop();
  GenerationLoop(const GenerationLoop&) = delete;
  GenerationLoop& operator=(const GenerationLoop&) = delete;

  // Runs one round. Returns true when the sequence is finished (then
  // result() is final and Round must not be called again). An error ends
  // the sequence: the loop must not be used further except to destroy it.
  absl::StatusOr<bool> Round();

  // The result so far; final once Round returned true.
  const GenerationResult& result() const { return result_; }
  GenerationResult TakeResult() { return std::move(result_); }

 private:
  GenerationLoop() = default;
  void Finalize();

  GenerateRequest request_;
  SessionOptions session_;
  TokenCallback on_tokens_;
  absl::Time start_;
  // Declaration order is destruction order reversed: the drafter (its
  // sessions, its pipeline) goes before the target session.
  std::unique_ptr<TargetSession> verifier_;
  std::unique_ptr<Drafter> drafter_;
  std::unique_ptr<DraftLengthPolicy> policy_;
  std::unique_ptr<TreeShapePolicy> tree_policy_;
  GenerationResult result_;
  std::vector<int64_t> committed_;
  int64_t context_ = 0;
  int gamma_ = 0;
  bool done_ = false;
  absl::Duration draft_server_time_;  // The drafter's server time so far.
};

// Runs one sequence to completion on the calling thread: a GenerationLoop
// started and run round after round. Every session it opened is closed
// before returning.
absl::StatusOr<GenerationResult> Generate(const GenerateRequest& request,
                                          TargetBackend& target,
                                          DraftBackend* draft,
                                          const TokenCallback& on_tokens);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_GENERATOR_H_
