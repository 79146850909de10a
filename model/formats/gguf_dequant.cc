#include "model/formats/gguf_dequant.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "model/formats/gguf_types.h"
#include "model/formats/half.h"

namespace tandem::model::formats {
namespace {

constexpr int kQK = 32;     // Elements per Q4_0 / Q4_1 / Q8_0 block.
constexpr int kQK_K = 256;  // Elements per K-quant super-block.

float Half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return HalfToFloat(h);
}

// block_q8_0 { half d; int8 qs[32]; }: x = d * q.
void DequantQ8_0(const uint8_t* b, float* y) {
  const float d = Half(b);
  for (int j = 0; j < kQK; ++j) y[j] = static_cast<int8_t>(b[2 + j]) * d;
}

// block_q4_0 { half d; uint8 qs[16]; }: element j is the low nibble of qs[j],
// element j+16 the high nibble; x = d * (q - 8).
void DequantQ4_0(const uint8_t* b, float* y) {
  const float d = Half(b);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = ((b[2 + j] & 0x0f) - 8) * d;
    y[j + kQK / 2] = ((b[2 + j] >> 4) - 8) * d;
  }
}

// block_q4_1 { half d; half m; uint8 qs[16]; }: x = d * q + m.
void DequantQ4_1(const uint8_t* b, float* y) {
  const float d = Half(b);
  const float m = Half(b + 2);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = (b[4 + j] & 0x0f) * d + m;
    y[j + kQK / 2] = (b[4 + j] >> 4) * d + m;
  }
}

// 6-bit scale and min of sub-block j from the 12 packed bytes of block_q4_K.
void ScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }: eight
// sub-blocks of 32; each 64 elements share 32 qs bytes (low nibbles first).
void DequantQ4_K(const uint8_t* b, float* y) {
  const float d = Half(b);
  const float dmin = Half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  for (int j = 0, is = 0; j < kQK_K; j += 64, is += 2, q += 32) {
    uint8_t sc, m;
    ScaleMinK4(is, scales, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    ScaleMinK4(is + 1, scales, &sc, &m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0x0f) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
  }
}

// block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }:
// 6-bit q = low 4 bits from ql, high 2 from qh, minus 32; x = d * scale * q.
void DequantQ6_K(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = Half(b + 208);
  for (int n = 0; n < kQK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
  }
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn BlockFunction(GgmlType type) {
  switch (type) {
    case GgmlType::kQ8_0: return DequantQ8_0;
    case GgmlType::kQ4_0: return DequantQ4_0;
    case GgmlType::kQ4_1: return DequantQ4_1;
    case GgmlType::kQ4_K: return DequantQ4_K;
    case GgmlType::kQ6_K: return DequantQ6_K;
    default: return nullptr;
  }
}

}  // namespace

absl::Status DequantizeToFloat(uint32_t type, const uint8_t* src, size_t src_bytes, int64_t n,
                               float* dst) {
  const GgmlTypeTraits* traits = FindGgmlType(type);
  if (traits == nullptr || !traits->dequantizable) {
    return absl::UnimplementedError(absl::StrCat("ggml type ", GgmlTypeName(type),
                                                 " cannot be dequantized (supported: F32, F16, "
                                                 "BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)"));
  }
  if (n < 0 || n % traits->block_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(n, " elements is not a whole number of ",
                                                   traits->name, " blocks of ",
                                                   traits->block_size));
  }
  const uint64_t blocks = static_cast<uint64_t>(n / traits->block_size);
  if (blocks * static_cast<uint64_t>(traits->type_size) != src_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(n, " ", traits->name, " elements need ",
                                                   blocks * traits->type_size, " bytes, found ",
                                                   src_bytes));
  }
  switch (traits->type) {
    case GgmlType::kF32:
      if (n > 0) std::memcpy(dst, src, src_bytes);
      return absl::OkStatus();
    case GgmlType::kF16:
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = traits->type == GgmlType::kF16 ? HalfToFloat(h) : Bf16ToFloat(h);
      }
      return absl::OkStatus();
    default:
      break;
  }
  const BlockFn fn = BlockFunction(traits->type);
  for (uint64_t i = 0; i < blocks; ++i) {
    fn(src + i * traits->type_size, dst + i * traits->block_size);
  }
  return absl::OkStatus();
}

}  // namespace tandem::model::formats
