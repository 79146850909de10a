#include "model/formats/gguf_types.h"

namespace tandem::model::formats {
namespace {

// QK_K = 256. Sizes: Q4_0 = half + 16, Q4_1 = 2 halves + 16, Q8_0 = half + 32,
// Q5_0 = half + 4 + 16, Q5_1 = 2 halves + 4 + 16, Q2_K = 16 + 64 + 2 halves,
// Q3_K = 32 + 64 + 12 + half, Q4_K = 2 halves + 12 + 128,
// Q5_K = 2 halves + 12 + 32 + 128, Q6_K = 128 + 64 + 16 + half, ...
constexpr GgmlTypeTraits kTraits[] = {
    {GgmlType::kF32, "F32", 1, 4, true},       {GgmlType::kF16, "F16", 1, 2, true},
    {GgmlType::kQ4_0, "Q4_0", 32, 18, true},   {GgmlType::kQ4_1, "Q4_1", 32, 20, true},
    {GgmlType::kQ5_0, "Q5_0", 32, 22, true},  {GgmlType::kQ5_1, "Q5_1", 32, 24, true},
    {GgmlType::kQ8_0, "Q8_0", 32, 34, true},   {GgmlType::kQ8_1, "Q8_1", 32, 36, false},
    {GgmlType::kQ2_K, "Q2_K", 256, 84, true}, {GgmlType::kQ3_K, "Q3_K", 256, 110, true},
    {GgmlType::kQ4_K, "Q4_K", 256, 144, true}, {GgmlType::kQ5_K, "Q5_K", 256, 176, true},
    {GgmlType::kQ6_K, "Q6_K", 256, 210, true}, {GgmlType::kQ8_K, "Q8_K", 256, 292, false},
    {GgmlType::kI8, "I8", 1, 1, false},        {GgmlType::kI16, "I16", 1, 2, false},
    {GgmlType::kI32, "I32", 1, 4, false},      {GgmlType::kI64, "I64", 1, 8, false},
    {GgmlType::kF64, "F64", 1, 8, false},      {GgmlType::kBF16, "BF16", 1, 2, true},
};

}  // namespace

const GgmlTypeTraits* FindGgmlType(uint32_t type) {
  for (const GgmlTypeTraits& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == type) return &t;
  }
  return nullptr;
}

std::string GgmlTypeName(uint32_t type) {
  const GgmlTypeTraits* t = FindGgmlType(type);
  if (t != nullptr) return t->name;
  return "type " + std::to_string(type);
}

}  // namespace tandem::model::formats
