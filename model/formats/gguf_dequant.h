#ifndef TANDEM_MODEL_FORMATS_GGUF_DEQUANT_H_
#define TANDEM_MODEL_FORMATS_GGUF_DEQUANT_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace tandem::model::formats {

// Converts `n` elements stored as ggml type `type` (F32, F16, BF16, Q8_0,
// Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) at `src` to float32
// at `dst`, following ggml's
// block layouts (ggml-common.h) and dequantize_row_* formulas exactly.
// InvalidArgument when `n` is not a whole number of blocks or `src_bytes` is
// not exactly the size of n elements; Unimplemented for other types.
absl::Status DequantizeToFloat(uint32_t type, const uint8_t* src, size_t src_bytes, int64_t n,
                               float* dst);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_GGUF_DEQUANT_H_
