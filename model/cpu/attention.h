#ifndef TANDEM_MODEL_CPU_ATTENTION_H_
#define TANDEM_MODEL_CPU_ATTENTION_H_

// Causal attention for any mix of rows from any sequences (decode rows,
// verify rows, prefill chunks) in one call: each row names its own
// float32 K/V cache and how many cached positions it sees.
//
// Batch invariance: a row's output depends only on its query and the cache
// positions it sees, computed in a fixed order (dots over head_dim in 16-lane
// FMAs, a fixed max / sum reduction, values accumulated position by position),
// never on the other rows of the call or the thread count.

#include <cstdint>

#include "absl/types/span.h"

namespace tandem::model::cpu {

struct AttentionShape {
  int64_t heads = 0;
  int64_t kv_heads = 0;  // Divides heads; query heads h*g..h*g+g-1 share KV head h.
  int64_t head_dim = 0;
  float scale = 1.f;     // Usually 1/sqrt(head_dim).
  // > 0: scores (after scale) become softcap * tanh(score / softcap) before
  // the softmax (Gemma 2's attn_logit_softcapping).
  float softcap = 0.f;
};

// One query row: keys/values laid out [kv_heads, kv_head_stride / head_dim,
// head_dim] (a layer of a SequenceKvCache), of which positions [0, visible)
// are attended.
struct AttentionRow {
  const float* keys = nullptr;
  const float* values = nullptr;
  int64_t kv_head_stride = 0;  // Floats between consecutive KV heads.
  int64_t visible = 0;         // >= 0; >= 1 counting `extra`.
  // Further positions attended after [0, visible), as offsets from
  // keys / values (token trees: a node's ancestors and itself).
  absl::Span<const int64_t> extra;
};

// out[r] = softmax(cap(q[r] K^T * scale)) V per head, for queries q [rows,
// heads * head_dim] (q_stride floats apart) into out [rows, heads * head_dim]
// (out_stride apart). Runs rows x heads across ATen's intra-op threads when
// there is enough work.
void Attention(const AttentionShape& shape, const float* q, int64_t q_stride,
               absl::Span<const AttentionRow> rows, float* out, int64_t out_stride);

}  // namespace tandem::model::cpu

#endif  // TANDEM_MODEL_CPU_ATTENTION_H_
