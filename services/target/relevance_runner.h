#ifndef TANDEM_SERVICES_TARGET_RELEVANCE_RUNNER_H_
#define TANDEM_SERVICES_TARGET_RELEVANCE_RUNNER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/differentiable_forward.h"
#include "model/relevance.h"

namespace tandem::services {

struct RelevanceRunnerOptions {
  // The served checkpoint (TransformerModel keeps no plain weights, so the
  // differentiable copy is reloaded from it) and the device to run on.
  std::string model_path;
  std::string device = "cpu";
  // Calls that may wait while one computes; beyond it RESOURCE_EXHAUSTED.
  int max_waiting = 4;
};

// The target server's relevance computations (model/relevance.h), outside
// the decode engine: they run on the calling (RPC) thread, one at a time, so
// requests that do not ask for relevance only share the processor with
// them. The float32 DifferentiableForward is built on the first call
// (from options.model_path) and kept; a failed load is retried on the next
// call. Thread-safe.
class RelevanceRunner {
 public:
  explicit RelevanceRunner(RelevanceRunnerOptions options) : options_(std::move(options)) {}

  // ComputeRelevance over tokens [first_generated, tokens.size()).
  // `cancelled` (may be null) is asked once the computation's turn comes; a
  // started computation runs to the end. Errors: ComputeRelevance's;
  // InvalidArgument for first_generated outside [1, tokens.size());
  // ResourceExhausted when max_waiting calls already wait; Cancelled;
  // FailedPrecondition when the checkpoint cannot be loaded.
  absl::StatusOr<std::vector<model::TokenRelevance>> Run(
      absl::Span<const int64_t> tokens, int64_t first_generated,
      const model::RelevanceOptions& options, const std::function<bool()>& cancelled);

 private:
  // The forward, loading it if needed. Called with run_mu_ held.
  absl::StatusOr<const model::DifferentiableForward*> Forward();

  const RelevanceRunnerOptions options_;
  std::mutex queue_mu_;
  int waiting_ = 0;  // Guarded by queue_mu_.
  std::mutex run_mu_;  // Held for a whole computation.
  std::unique_ptr<model::DifferentiableForward> forward_;  // Guarded by run_mu_.
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_TARGET_RELEVANCE_RUNNER_H_
