#ifndef TANDEM_MODEL_CPU_POINTWISE_H_
#define TANDEM_MODEL_CPU_POINTWISE_H_

// The CPU decoder's row-wise float32 steps: norms, rotary embedding and MLP
// activations. Each row is computed on its own, in an order that depends only
// on the row's length, so results are batch-invariant (see linear.h).
// Pointers are to float32 rows `stride` floats apart; outputs may alias inputs
// only where stated.

#include <cstdint>

namespace tandem::model::cpu {

struct Rows {
  float* data = nullptr;
  int64_t count = 0;
  int64_t stride = 0;  // Floats between rows.
};

struct ConstRows {
  const float* data = nullptr;
  int64_t count = 0;
  int64_t stride = 0;
};

// out = weight * (x * rsqrt(mean(x^2) + eps)) per row of width `width`
// (Hugging Face LlamaRMSNorm in float32). out may alias x.
void RmsNorm(ConstRows x, int64_t width, const float* weight, float eps, Rows out);

// out = (x - mean) * rsqrt(var + eps) * weight + bias (torch layer_norm).
// out may alias x.
void LayerNorm(ConstRows x, int64_t width, const float* weight, const float* bias, float eps,
               Rows out);

// Rotary embedding in Hugging Face's rotate-half layout, in place, on `heads`
// consecutive vectors of head_dim floats starting at x: for i < head_dim/2,
//   (x[i], x[i + d/2]) <- (x[i] c[i] - x[i + d/2] s[i], x[i + d/2] c[i] + x[i] s[i]).
// cos/sin hold head_dim/2 floats for the row's position.
void Rope(float* x, int64_t heads, int64_t head_dim, const float* cos, const float* sin);

// out[r][i] = silu(gate_up[r][i]) * gate_up[r][inner + i] for i < inner.
void SiluMul(ConstRows gate_up, int64_t inner, Rows out);

// out[r][i] = gelu_tanh(gate_up[r][i]) * gate_up[r][inner + i] for i < inner
// (Gemma's GeGLU).
void GeluTanhMul(ConstRows gate_up, int64_t inner, Rows out);

// x[r][i] += y[r][i] for i < width.
void AddRows(Rows x, ConstRows y, int64_t width);

// x = gelu_tanh(x) in place on rows of `width` (GPT-2's "gelu_new").
void GeluTanh(Rows x, int64_t width);

}  // namespace tandem::model::cpu

#endif  // TANDEM_MODEL_CPU_POINTWISE_H_
