#ifndef TANDEM_MODEL_CPU_LINEAR_H_
#define TANDEM_MODEL_CPU_LINEAR_H_

// The CPU decoder's matrix product: float32 activations times a weight
// matrix stored in float32, bfloat16 or float16, accumulated in float32.
//
// Batch invariance: every output y[m][n] is computed by the same sequence of
// float operations (16-lane FMAs over k in order, one fixed horizontal sum,
// then the bias) whatever the number of rows, the row's place in the batch,
// the thread count or the tiling. A row's result therefore does not depend on
// which other rows share the call: a 1-row decode step and row t of a k-row
// verify give bit-identical outputs. BLAS libraries choose kernels (and
// reduction orders) by shape, which is why this is not a BLAS call
// (docs/model.md, "CPU kernels").
//
// Weights stay in their stored dtype: bfloat16 and float16 are widened to
// float32 in registers, so a bfloat16 model computes exactly what a float32
// model with the same (bf16-representable) weights computes.

#include <cstdint>

#include <ATen/ATen.h>

#include "absl/types/span.h"

namespace tandem::model::cpu {

enum class WeightType { kFloat32, kBFloat16, kFloat16 };

// An [out, in] weight matrix packed once at load for Linear: blocks of 4
// output rows, each stored as groups of 4 x 16 consecutive values (float32,
// float16) or 4 x 32 values as 16 (k, k + 16) pairs per row (bfloat16: one
// 64-byte line per row, widened by a shift or a mask); rows and the last
// group zero-padded. A block streams from memory as one sequential run.
// Owns its storage.
struct PackedWeight {
  at::Tensor data;  // 1-D, the stored dtype.
  WeightType type = WeightType::kFloat32;
  int64_t out = 0;
  int64_t in = 0;
};

// Packs a 2-D CPU tensor [out, in] of float32 / bfloat16 / float16, keeping
// its dtype. Throws c10::Error for anything else.
PackedWeight Pack(const at::Tensor& weight);

// Moves the weights' storage into one allocation backed by 2 MiB pages where
// the kernel grants them (transparent huge pages in "madvise" mode, Debian's
// default): decode streams every weight once per token, and 4 KiB pages
// cost it a page walk every 4 KiB (measured single-core read bandwidth on
// 92 MB: 19 GB/s with 4 KiB pages, 32 GB/s with 2 MiB pages). Leaves the
// weights as they are if the allocation fails.
void MoveToHugePages(absl::Span<PackedWeight* const> weights);

struct LinearArgs {
  const float* x = nullptr;  // [rows, w->in], rows x_stride floats apart.
  int64_t rows = 0;
  int64_t x_stride = 0;
  const PackedWeight* w = nullptr;
  const float* bias = nullptr;  // [w->out] or null.
  float* y = nullptr;           // [rows, w->out], rows y_stride floats apart.
  int64_t y_stride = 0;
  bool accumulate = false;      // y += x W^T (+ bias) instead of y =.
};

// y = x W^T + bias (or y += ...). x and y must not overlap. Splits the
// output columns across ATen's intra-op threads when the work is large
// enough; thread-safe for distinct outputs.
void Linear(const LinearArgs& args);

}  // namespace tandem::model::cpu

#endif  // TANDEM_MODEL_CPU_LINEAR_H_
