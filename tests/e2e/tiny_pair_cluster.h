#ifndef TANDEM_TESTS_E2E_TINY_PAIR_CLUSTER_H_
#define TANDEM_TESTS_E2E_TINY_PAIR_CLUSTER_H_

// The tiny pair (tiny_pair.h) behind real gRPC servers, and a separately
// loaded copy of its target for the tests' own reference computations.

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"
#include "tests/e2e/e2e_cluster.h"
#include "tests/e2e/tiny_pair.h"

namespace tandem::testing {

struct TinyPairCluster {
  TinyPairPaths paths;
  std::unique_ptr<E2eCluster> cluster;
  // The target loaded again, used by no server.
  std::unique_ptr<model::Model> reference;
};

// Writes the pair under a fresh temporary directory and starts a cluster on
// it with `options` (their model paths are replaced). Errors name the step.
absl::StatusOr<TinyPairCluster> StartTinyPairCluster(E2eOptions options = {});

// The reference target's raw next-token logits after `sequence` (the model's
// sequence 1 is used and released).
std::vector<float> RawLogitsAfter(model::Model& reference, const std::vector<int64_t>& sequence);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_E2E_TINY_PAIR_CLUSTER_H_
