#include "tests/e2e/tiny_pair_cluster.h"

#include <algorithm>
#include <utility>

#include <gtest/gtest.h>

#include "services/common/model_server_options.h"
#include "tests/testing/oracles.h"

namespace tandem::testing {

absl::StatusOr<TinyPairCluster> StartTinyPairCluster(E2eOptions options) {
  TinyPairCluster out;
  absl::StatusOr<TinyPairPaths> paths = WriteTinyPair(MakeTempDir("tiny_pair"));
  if (!paths.ok()) return paths.status();
  out.paths = *std::move(paths);
  options.target_model_path = out.paths.target_gguf;
  options.draft_model_path = out.paths.draft_gguf;
  out.cluster = E2eCluster::Start(options);
  if (out.cluster == nullptr) return absl::InternalError("the tiny-pair cluster did not start");
  services::ModelServerOptions reference;
  reference.model_path = out.paths.target_gguf;
  reference.max_sessions = 4;
  absl::StatusOr<std::unique_ptr<model::Model>> m = services::LoadModel(reference);
  if (!m.ok()) return m.status();
  out.reference = *std::move(m);
  return out;
}

std::vector<float> RawLogitsAfter(model::Model& reference, const std::vector<int64_t>& sequence) {
  absl::StatusOr<at::Tensor> logits =
      reference.ForwardOne(/*sequence=*/1, sequence, 0, /*all_logits=*/false);
  reference.Release(1);
  EXPECT_TRUE(logits.ok()) << logits.status();
  const int64_t vocab = reference.info().vocab_size;
  std::vector<float> row(vocab, 0.0f);
  if (logits.ok()) {
    at::Tensor cpu = logits->to(at::kCPU, at::kFloat).contiguous();
    std::copy_n(cpu.data_ptr<float>(), vocab, row.begin());
  }
  return row;
}

}  // namespace tandem::testing
