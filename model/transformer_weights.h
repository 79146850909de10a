#ifndef TANDEM_MODEL_TRANSFORMER_WEIGHTS_H_
#define TANDEM_MODEL_TRANSFORMER_WEIGHTS_H_

#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"

namespace tandem::model {

// One decoder block's weights, arranged for the forward pass: every matrix is
// [out, in] for at::linear, q/k/v fused into one matrix, and (Llama) gate/up
// fused into one. Biases are undefined where the architecture has none. Norm
// weights are float32 whatever the model dtype (Gemma's 1 + w would lose
// bits in bfloat16); RMSNorm weights are multipliers (Gemma's offsets have
// 1 added by the loaders).
struct LayerWeights {
  at::Tensor norm1_weight, norm1_bias;  // RMSNorm (Llama) / LayerNorm (GPT-2)
  // Gemma 2/3 (sandwich_norms): RMSNorm of the attention output and of the
  // MLP output before the residual adds. Undefined otherwise.
  at::Tensor post_attention_norm_weight, post_mlp_norm_weight;
  at::Tensor qkv_weight, qkv_bias;      // [(heads + 2 * kv_heads) * head_dim, H]
  at::Tensor q_norm_weight, k_norm_weight;  // [head_dim] (qk_norm only)
  at::Tensor out_weight, out_bias;      // [H, heads * head_dim]
  at::Tensor norm2_weight, norm2_bias;
  at::Tensor up_weight, up_bias;        // Llama: [2I, H] = [gate; up]. GPT-2: [I, H]
  at::Tensor down_weight, down_bias;    // [H, I]
};

struct TransformerWeights {
  at::Tensor token_embedding;     // [V, H]
  at::Tensor position_embedding;  // [ctx, H] (GPT-2 only)
  std::vector<LayerWeights> layers;
  at::Tensor final_norm_weight, final_norm_bias;
  at::Tensor lm_head;             // [V, H] (the embedding when tied)
  int64_t parameter_count = 0;
};

// Checks that `checkpoint` has every tensor its architecture needs with the
// expected shape, then arranges them, converted to `dtype` on `device`.
// InvalidArgument names the missing or mismatched tensor (expected vs found).
absl::StatusOr<TransformerWeights> ArrangeWeights(const Checkpoint& checkpoint,
                                                  at::ScalarType dtype,
                                                  const at::Device& device);

// Fills in derived config fields (head_dim, kv heads) and checks that the
// hyper-parameters are consistent. InvalidArgument names the field.
absl::Status NormalizeConfig(ModelConfig& config);

}  // namespace tandem::model

#endif  // TANDEM_MODEL_TRANSFORMER_WEIGHTS_H_
