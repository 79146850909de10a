#ifndef TANDEM_MODEL_FORMATS_GGUF_QUANTIZE_H_
#define TANDEM_MODEL_FORMATS_GGUF_QUANTIZE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "model/formats/gguf_types.h"

namespace tandem::model::formats {

// Encodes `n` floats as ggml type F32, F16, BF16, Q8_0, Q4_0 or Q4_1 (the
// reference round-to-nearest quantizers of ggml, block by block). `n` must be
// a multiple of the block size. Unimplemented for other types.
absl::StatusOr<std::vector<uint8_t>> EncodeGgml(GgmlType type, const float* x, int64_t n);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_GGUF_QUANTIZE_H_
