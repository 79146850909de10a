#ifndef TANDEM_MODEL_FORMATS_GGUF_TYPES_H_
#define TANDEM_MODEL_FORMATS_GGUF_TYPES_H_

#include <cstdint>
#include <string>

// ggml tensor types and GGUF metadata value types, numbered as in ggml.h /
// gguf.h (the numbers are the on-disk encoding).
namespace tandem::model::formats {

enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

// Elements per block and bytes per block, from ggml-common.h's block structs.
struct GgmlTypeTraits {
  GgmlType type;
  const char* name;
  int64_t block_size;
  int64_t type_size;
  bool dequantizable;  // tandem can turn it into float (DequantizeToFloat).
};

// nullptr for types whose block layout tandem does not know (IQ*, TQ*, ...).
const GgmlTypeTraits* FindGgmlType(uint32_t type);

// "Q8_0", or "type 23" for unknown ones.
std::string GgmlTypeName(uint32_t type);

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_GGUF_TYPES_H_
