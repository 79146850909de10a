#ifndef TANDEM_DECODING_ENGINE_SESSION_H_
#define TANDEM_DECODING_ENGINE_SESSION_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "decoding/step_cost_model.h"
#include "model/model.h"
#include "sampling/rng.h"
#include "sampling/selector.h"

namespace tandem::decoding {

using SessionId = uint64_t;

// How a stateful session catches up with the orchestrator's committed tokens
// without the prefix being re-sent: keep the first base_length committed
// tokens, then append `append`. Positions are absolute, so applying the same
// sync twice is harmless (retries are safe).
struct SequenceSync {
  int64_t base_length = 0;
  std::vector<int64_t> append;
};

// The largest SessionOptions::distribution_top_n (the one owner of the
// bound; the services validate against it).
inline constexpr int kMaxDistributionTopN = 4096;

// Per-session sampling configuration, fixed at open.
struct SessionOptions {
  sampling::SamplingParams params;
  uint64_t seed = 0;
  int top_logprobs = 0;  // Alternatives reported per emitted token.
  // > 0: every emitted token also carries this many most likely tokens of
  // its raw and processed distributions (StepResult::raw_distribution). In
  // [0, kMaxDistributionTopN].
  int distribution_top_n = 0;
  // The longest the sequence will get (prompt + new tokens + the largest
  // draft), reserved in the model's KV cache at open so that an admitted
  // session never runs out of KV memory; 0 = the model's context length.
  // In [prompt length, context length] when set.
  int64_t max_sequence_length = 0;
};

// One session of an engine: the tokens the orchestrator committed (prompt +
// generated; the last one is "pending": not yet run through the model), what
// the model's full cache holds, and the session's processors and RNG.
struct EngineSession {
  model::SequenceId sequence = 0;
  std::vector<int64_t> committed;
  int64_t prompt_length = 0;
  std::vector<int64_t> cached;  // Tokens in the model's full-layer cache.
  std::unique_ptr<sampling::TokenSelector> selector;
  // Every random decision of the session: verification, decoding and
  // drafting draw under different purposes (sampling/rng.h).
  std::unique_ptr<sampling::Rng> rng;
  int top_logprobs = 0;
  int distribution_top_n = 0;
  // This session's part of the engine's recent rows (TargetEngine's load
  // signal).
  RowShare::Session recent_rows;

  // Applies `sync` to `committed`. FailedPrecondition if base_length is past
  // the end (the caller's view and ours diverged), InvalidArgument if the
  // result would be empty.
  absl::Status ApplySync(const SequenceSync& sync);

  // Brings the model's cache to a prefix of committed[0, n-1) and returns the
  // committed tokens still to run before the pending one (not including it).
  // Truncates the model only where the cache disagrees with `committed`.
  absl::StatusOr<std::vector<int64_t>> CatchUp(model::Model& model);

  // The history seen by the processors: committed + `extra`.
  std::vector<int64_t> History(const std::vector<int64_t>& extra) const;
};

// Creates a session: validates the params against the model's vocabulary and
// the prompt (non-empty, ids in range, shorter than the context).
absl::StatusOr<std::unique_ptr<EngineSession>> NewEngineSession(
    const model::ModelInfo& info, model::SequenceId sequence,
    std::vector<int64_t> prompt, const SessionOptions& options);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_ENGINE_SESSION_H_
