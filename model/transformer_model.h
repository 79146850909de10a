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

// KV caches grow in multiples of this many positions.
inline constexpr int64_t kKvBlockPositions = 64;

struct TransformerOptions {
  at::ScalarType dtype = at::kFloat;  // float32, bfloat16 or float16.
  at::Device device = at::kCPU;
  // Positions per sequence; 0 = the config's max_position_embeddings. A
  // sequence's KV cache is allocated for what it holds (in blocks of
  // kKvBlockPositions) and grows up to this, or to what Reserve asked for.
  int64_t max_context = 0;
  // Bytes of KV cache (plus early-exit hidden states) all sequences together
  // may hold; 0 = unlimited. An allocation past it is ResourceExhausted
  // naming the budget (never an out-of-memory crash).
  int64_t kv_budget_bytes = 0;
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
  absl::Status KeepSlots(SequenceId sequence, int64_t from,
                         absl::Span<const int64_t> slots) override;
  absl::Status Fork(SequenceId source, SequenceId destination,
                    int64_t length) override;
  void Release(SequenceId sequence) override;
  int64_t num_sequences() const override { return sequences_.size(); }
  int64_t kv_cache_bytes() const override;
  absl::Status Reserve(SequenceId sequence, int64_t positions) override;
  int64_t kv_budget_bytes() const override { return options_.kv_budget_bytes; }

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
  // Bytes one cached position costs a sequence (KV, plus its early-exit
  // hidden state once it has one).
  int64_t BytesPerPosition(const Sequence* s) const;
  // ResourceExhausted naming the budget if `extra` more bytes would pass it.
  absl::Status CheckBudget(int64_t extra) const;
  // A new cache for `positions` (rounded up to a block) within the budget.
  absl::StatusOr<std::unique_ptr<SequenceKvCache>> NewCache(int64_t positions) const;
  // Grows `s` (cache and early-exit hidden states) to hold `positions`:
  // doubling when the budget allows (unless `exact`), else just what is
  // needed (rounded up to a block).
  absl::Status Grow(Sequence& s, int64_t positions, bool exact = false);
  absl::StatusOr<std::vector<Work>> Plan(absl::Span<const ForwardRequest> batch);
  void RunLayer(int64_t layer, std::vector<Work*>& active);
  // The CPU path: one batch-invariant decoder step over every active row.
  void RunLayerCpu(int64_t layer, std::vector<Work*>& active);
  std::vector<at::Tensor> LogitsCpu(std::vector<Work>& works);
  at::Tensor Attention(int64_t layer, Work& work, const at::Tensor& qkv);
  // Torch path: true where a row of `work` (a token tree) must not see a key
  // slot, [rows, total] bool on the CPU.
  at::Tensor TreeMask(const Work& work, int64_t total, int64_t window) const;
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
