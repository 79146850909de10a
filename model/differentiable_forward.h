#ifndef TANDEM_MODEL_DIFFERENTIABLE_FORWARD_H_
#define TANDEM_MODEL_DIFFERENTIABLE_FORWARD_H_

#include <cstdint>
#include <memory>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/checkpoint.h"
#include "model/model_config.h"
#include "model/transformer_weights.h"

namespace tandem::model {

struct DifferentiableForwardOptions {
  // float32 (the default) or float64 (finite-difference checks). Every weight
  // is converted to it, whatever the checkpoint stores (bf16 included).
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
};

// The full-sequence forward of a Llama-family or GPT-2 decoder (every feature
// TransformerModel implements: RMSNorm with Gemma's offsets already folded in
// by the loaders, sandwich norms, global and local RoPE with llama3 / linear
// / per-frequency scaling, q/k norms, GQA with a causal mask, sliding windows
// per layer, attention and final soft-caps, SiLU / GELU-tanh MLPs, GPT-2's
// LayerNorm and learned positions), written as plain LibTorch ops so that
// autograd differentiates it, with no KV cache. It exists for attribution
// (model/relevance.h); serving uses TransformerModel.
//
// The input is the token-embedding rows [B, T, H] (Embed), before Gemma's
// sqrt(H) scale and GPT-2's position embeddings, which the forward applies:
// row t of every batch entry is position t. Rows only see earlier rows
// (causal), so row t's outputs depend on input rows [0, t] only, and
// right-padding a batch entry does not change its earlier rows.
//
// Thread-safety: const methods may be called concurrently (weights are
// read-only); autograd state is per call.
class DifferentiableForward {
 public:
  // Copies and converts the checkpoint's weights. InvalidArgument: an
  // inconsistent config, a missing or misshapen tensor (as
  // TransformerModel::Create), or a dtype other than float32 / float64.
  static absl::StatusOr<std::unique_ptr<DifferentiableForward>> Create(
      const Checkpoint& checkpoint, const DifferentiableForwardOptions& options = {});

  const ModelConfig& config() const { return config_; }
  at::ScalarType dtype() const { return options_.dtype; }

  // The token-embedding rows [T, H] of `tokens` (no autograd history).
  // InvalidArgument: empty, longer than max_position_embeddings, or a token
  // outside [0, vocab_size).
  absl::StatusOr<at::Tensor> Embed(absl::Span<const int64_t> tokens) const;

  // The mean of the embedding table's rows [H] (no autograd history).
  at::Tensor MeanEmbedding() const { return weights_.token_embedding.mean(0); }

  // The final-normed hidden states [B, T, H] of embeddings [B, T, H] (or
  // [T, H] -> [T, H]), differentiable with respect to `embeddings`.
  // InvalidArgument: wrong rank, hidden size or dtype, or T outside
  // [1, max_position_embeddings]. Internal: a LibTorch error.
  absl::StatusOr<at::Tensor> Hidden(const at::Tensor& embeddings) const;

  // The logits [..., V] of final hidden states [..., H] (LM head, then the
  // final soft-cap when the config has one). Callers pass only the rows they
  // need: the head is the largest matrix.
  at::Tensor Logits(const at::Tensor& hidden) const;

  // Logits(Hidden(embeddings)): [B, T, V] (or [T, V]).
  absl::StatusOr<at::Tensor> Forward(const at::Tensor& embeddings) const;

 private:
  DifferentiableForward(ModelConfig config, TransformerWeights weights,
                        const DifferentiableForwardOptions& options);

  at::Tensor Norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) const;
  at::Tensor Attention(int64_t layer, const at::Tensor& x) const;
  at::Tensor Mlp(int64_t layer, const at::Tensor& x) const;
  at::Tensor HiddenUnchecked(const at::Tensor& embeddings) const;

  ModelConfig config_;
  TransformerWeights weights_;
  DifferentiableForwardOptions options_;
  // RoPE angles [context, head_dim] (cat(freqs, freqs)), global and local
  // (UsesLocalRope layers); undefined for GPT-2.
  at::Tensor rope_angles_, local_angles_;
};

}  // namespace tandem::model

#endif  // TANDEM_MODEL_DIFFERENTIABLE_FORWARD_H_
