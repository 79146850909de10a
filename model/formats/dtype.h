#ifndef TANDEM_MODEL_FORMATS_DTYPE_H_
#define TANDEM_MODEL_FORMATS_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace tandem::model::formats {

// The float element types a loaded tensor can have (torch-free mirror of the
// at::ScalarType values the Checkpoint uses).
enum class DType { kF32, kF16, kBF16 };

inline size_t DTypeSize(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }

// Safetensors spelling: "F32", "F16", "BF16".
inline const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
  }
  return "?";
}

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_DTYPE_H_
