#ifndef TANDEM_MODEL_CPU_DECODER_H_
#define TANDEM_MODEL_CPU_DECODER_H_

// The CPU forward step of a decoder block and of the LM head, for any number
// of rows from any sequences at once (decode rows, verify rows, prefill
// chunks of every sequence in a batch): six kernel calls a layer — norm,
// QKV projection, RoPE + KV write, attention over each row's own cache,
// output projection + residual, norm + gate/up + SiLU·mul, down projection +
// residual. Qwen3's / Gemma 3's per-head q/k RMSNorm runs just before RoPE; a
// sliding window (SlidingWindowOf) limits each row's attended span. Gemma:
// GELU-gated MLP, attention scale and score soft-capping from the config,
// sandwich norms (the attention and MLP outputs RMS-normed before each
// residual add), a local RoPE table for sliding layers (UsesLocalRope).
//
// Numerics: activations, norms, softmax, accumulation and logits are float32;
// weights are read in their stored dtype (float32 / bfloat16 / float16) and
// widened in registers; the KV cache is float32. Every kernel is
// batch-invariant (linear.h), so a row's logits do not depend on which rows
// share the step.
//
// Thread-compatible; one instance per model (it owns scratch buffers).

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "absl/types/span.h"
#include "model/cpu/linear.h"
#include "model/model_config.h"
#include "model/transformer_weights.h"

namespace tandem::model::cpu {

// Where one row's keys and values go in the current layer: the layer's slice
// of its sequence's float32 cache, [kv_heads, capacity, head_dim].
struct DecoderRow {
  float* keys = nullptr;
  float* values = nullptr;
  int64_t kv_head_stride = 0;  // capacity * head_dim.
  int64_t position = 0;        // The row attends to positions [0, position].
  // Token-tree rows (ForwardRequest::tree_parents); slot < 0 for ordinary
  // rows. The row's K/V goes to cache slot `slot` instead of `position`
  // (still rotated for `position`), and it attends to slots
  // [first_visible, prefix_end) plus `extra_slots` (ascending: its tree
  // ancestors and itself), already limited to the layer's sliding window.
  int64_t slot = -1;
  int64_t first_visible = 0;
  int64_t prefix_end = 0;
  absl::Span<const int64_t> extra_slots;
};

class Decoder {
 public:
  // Packs the matrices of `weights` (CPU tensors; not referenced afterwards).
  // rope_cos / rope_sin: float32 [context, head_dim / 2], the rotary angles'
  // cosines and sines per position (Llama only; undefined for GPT-2);
  // local_cos / local_sin the same for layers that UsesLocalRope (undefined
  // when none does). Throws c10::Error on bad input.
  Decoder(const ModelConfig& config, const TransformerWeights& weights, at::Tensor rope_cos,
          at::Tensor rope_sin, at::Tensor local_cos = {}, at::Tensor local_sin = {});

  // x: [rows.size(), hidden] float32 rows, updated in place. Writes each row's
  // K/V at its position before attention, so rows of one sequence see each
  // other causally.
  void RunLayer(int64_t layer, float* x, absl::Span<const DecoderRow> rows);

  // logits [rows, vocab] = LMHead(FinalNorm(x)) for x [rows, hidden].
  void Logits(const float* x, int64_t rows, float* logits);

 private:
  struct Layer {
    PackedWeight qkv, out, up, down;
    at::Tensor norm1_w, norm1_b, norm2_w, norm2_b;  // float32
    at::Tensor qkv_b, out_b, up_b, down_b;          // float32 or undefined
    at::Tensor q_norm_w, k_norm_w;                  // float32 [head_dim] (qk_norm)
    at::Tensor post_attention_w, post_mlp_w;        // float32 [hidden] (sandwich_norms)
  };
  // x += Norm(y) with `w` (sandwich norms), or x += y when `w` is undefined:
  // the residual add of a block output y [rows, hidden] (overwritten).
  void AddResidual(const at::Tensor& w, float* y, int64_t rows, float* x);
  void Norm(const at::Tensor& w, const at::Tensor& b, const float* x, int64_t rows, float* out);
  float* Scratch(std::vector<float>& buffer, int64_t size);

  ModelConfig config_;
  std::vector<Layer> layers_;
  PackedWeight lm_head_;
  at::Tensor final_w_, final_b_;
  at::Tensor rope_cos_, rope_sin_;  // float32 [context, head_dim / 2]
  at::Tensor local_cos_, local_sin_;  // The same for UsesLocalRope layers.
  std::vector<float> normed_, qkv_, attn_, mlp_, act_, out_;
  std::vector<int64_t> extra_;  // Tree rows' extra slots relative to their span.
};

}  // namespace tandem::model::cpu

#endif  // TANDEM_MODEL_CPU_DECODER_H_
