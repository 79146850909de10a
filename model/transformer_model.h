#ifndef TANDEM_MODEL_TRANSFORMER_MODEL_H_
#define TANDEM_MODEL_TRANSFORMER_MODEL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "model/cpu/decoder.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/transformer_weights.h"

namespace tandem::model {

struct TransformerOptions {
  at::ScalarType dtype = at::kFloat;  // float32, bfloat16 or float16.
  at::Device device = at::kCPU;
  // Positions per sequence; 0 = the config's max_position_embeddings. Each
  // sequence's KV cache is allocated for this many positions up front.
  int64_t max_context = 0;
  // 0 = unlimited. Forward on a new sequence beyond it: ResourceExhausted.
  int64_t max_sequences = 0;
  // Run the layers as LibTorch ops even on CPU: the code path CUDA takes, so
  // that tests can check it on a machine without a GPU. Slower; not
  // batch-invariant.
  bool torch_ops = false;
};

// Llama-family and GPT-2 decoders implementing Model. A batch is run
// "ragged": the new tokens of all sequences are packed into one [sum T_i, H]
// matrix, with no padding or masks across sequences.
//
// On CPU every layer is one cpu::Decoder step over all rows of all sequences
// (attention included, each row against its own cache): float32 activations,
// KV cache and logits over weights in the stored dtype, batch-invariant, so a
// sequence's logits do not depend on what it is batched with, and a k-row
// verify equals k 1-row decode steps bit for bit. On other devices (CUDA) the
// layers run as LibTorch ops, attention per sequence: float32 residual
// stream, norms, softmax and logits; matrix products in the model dtype
// (inputs rounded to it, float32 accumulation); KV cache in the model dtype.
class TransformerModel : public Model {
 public:
  static absl::StatusOr<std::unique_ptr<TransformerModel>> Create(
      const Checkpoint& checkpoint, const TransformerOptions& options);

  const ModelInfo& info() const override { return info_; }
  const ModelConfig& config() const { return config_; }

  absl::StatusOr<std::vector<at::Tensor>> Forward(
      absl::Span<const ForwardRequest> batch) override;
  int64_t Length(SequenceId sequence) const override;
  int64_t DraftLength(SequenceId sequence) const override;
  absl::Status Truncate(SequenceId sequence, int64_t length) override;
  absl::Status Fork(SequenceId source, SequenceId destination,
                    int64_t length) override;
  void Release(SequenceId sequence) override;
  int64_t num_sequences() const override { return sequences_.size(); }
  int64_t kv_cache_bytes() const override;

 private:
  struct Sequence {
    std::unique_ptr<SequenceKvCache> cache;
    std::vector<int64_t> tokens;  // One per position cached by layer 0.
    int64_t exit_layer = 0;       // Layer whose input is saved in exit_hidden.
    at::Tensor exit_hidden;       // [capacity, H], allocated on first use.
  };
  struct Work;

  TransformerModel(ModelConfig config, TransformerWeights weights,
                   const TransformerOptions& options);

  absl::Status Validate(absl::Span<const ForwardRequest> batch) const;
  absl::StatusOr<std::vector<Work>> Plan(absl::Span<const ForwardRequest> batch);
  void RunLayer(int64_t layer, std::vector<Work*>& active);
  // The CPU path: one batch-invariant decoder step over every active row.
  void RunLayerCpu(int64_t layer, std::vector<Work*>& active);
  std::vector<at::Tensor> LogitsCpu(std::vector<Work>& works);
  at::Tensor Attention(int64_t layer, Work& work, const at::Tensor& qkv);
  at::Tensor Norm(const at::Tensor& x, const at::Tensor& weight,
                  const at::Tensor& bias) const;
  // cap * tanh(logits / cap) in place when final_logit_softcapping is set.
  void SoftCapLogits(std::vector<at::Tensor>& logits) const;
  // cos/sin [rows, 1, head_dim] of a work's positions (computed once per pass).
  void PrepareRope(Work& work) const;

  ModelConfig config_;
  TransformerWeights weights_;
  TransformerOptions options_;
  ModelInfo info_;
  KvCacheShape cache_shape_;
  at::TensorOptions activation_options_;  // float32.
  at::Tensor rope_cos_, rope_sin_;  // [context, head_dim] float32 (torch path).
  at::Tensor local_cos_, local_sin_;  // The same for UsesLocalRope layers (Gemma 3).
  std::unique_ptr<cpu::Decoder> cpu_;  // Set on CPU: runs every layer and the head.
  // node_hash_map: Work keeps pointers to Sequences across insertions.
  absl::node_hash_map<SequenceId, Sequence> sequences_;
};

}  // namespace tandem::model

#endif  // TANDEM_MODEL_TRANSFORMER_MODEL_H_
