#ifndef TANDEM_MODEL_CPU_KERNELS_H_
#define TANDEM_MODEL_CPU_KERNELS_H_

// Fused CPU kernels for the decoder's small element-wise steps. A decode
// step of a small model is dominated by per-call LibTorch dispatch overhead
// (~3-4 µs a call, ~70 calls per layer; docs/benchmarks.md), not by
// arithmetic: each kernel here replaces several calls with one loop. They
// follow the rounding of the op sequences they replace (compute in float,
// round to the tensor dtype where the unfused ops would), so results match
// the LibTorch path to within accumulation order.
//
// All take and return CPU tensors of float32, bfloat16 or float16; inputs may
// be strided views as documented; outputs are new contiguous tensors.

#include <cstdint>

#include <ATen/ATen.h>

namespace tandem::model::cpu {

// True when the fused kernels can handle `t` (CPU, float32/bf16/f16).
bool Supported(const at::Tensor& t);

// weight * to_dtype(x * rsqrt(mean(x^2) + eps)), rows of x [rows, H]
// (contiguous rows), in float. Hugging Face LlamaRMSNorm.
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);

// x * cos + x_rot * sin for x, x_rot [rows, heads, d] (last dim contiguous),
// cos/sin [rows, 1, d] contiguous.
at::Tensor Rope(const at::Tensor& x, const at::Tensor& x_rot, const at::Tensor& cos,
                const at::Tensor& sin);

// silu(gate_up[:, :I]) * gate_up[:, I:] for gate_up [rows, 2I] contiguous.
at::Tensor SiluMul(const at::Tensor& gate_up);

// Causal attention of `rows` new queries at positions [start, start + rows)
// against keys/values [kv_heads, start + rows, d] (views of the cache: last
// dim contiguous). q [rows, heads, d] (last dim contiguous); heads sharing a
// KV head are consecutive (GQA). Returns [rows, heads * d].
at::Tensor Attention(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                     int64_t start, double scale);

}  // namespace tandem::model::cpu

#endif  // TANDEM_MODEL_CPU_KERNELS_H_
