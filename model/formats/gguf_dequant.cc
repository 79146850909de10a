#include "model/formats/gguf_dequant.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "model/formats/gguf_types.h"
#include "model/formats/half.h"

namespace tandem::model::formats {
namespace {

constexpr int kQK = 32;     // Elements per Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 block.
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

// block_q5_0 { half d; uint8 qh[4]; uint8 qs[16]; }: like Q4_0, plus a fifth
// (high) bit for element j in bit j of the little-endian uint32 qh;
// x = d * (q - 16).
void DequantQ5_0(const uint8_t* b, float* y) {
  const float d = Half(b);
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  for (int j = 0; j < kQK / 2; ++j) {
    const int lo = (b[6 + j] & 0x0f) | (((qh >> j) & 1) << 4);
    const int hi = (b[6 + j] >> 4) | (((qh >> (j + kQK / 2)) & 1) << 4);
    y[j] = (lo - 16) * d;
    y[j + kQK / 2] = (hi - 16) * d;
  }
}

// block_q5_1 { half d; half m; uint8 qh[4]; uint8 qs[16]; }: 5-bit q as in
// Q5_0, unsigned; x = d * q + m.
void DequantQ5_1(const uint8_t* b, float* y) {
  const float d = Half(b);
  const float m = Half(b + 2);
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  for (int j = 0; j < kQK / 2; ++j) {
    const int lo = (b[8 + j] & 0x0f) | (((qh >> j) & 1) << 4);
    const int hi = (b[8 + j] >> 4) | (((qh >> (j + kQK / 2)) & 1) << 4);
    y[j] = lo * d + m;
    y[j + kQK / 2] = hi * d + m;
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

// block_q5_K { half d; half dmin; uint8 scales[12]; uint8 qh[32];
// uint8 qs[128]; }: Q4_K plus a fifth bit: sub-block s takes bit s of qh[l].
void DequantQ5_K(const uint8_t* b, float* y) {
  const float d = Half(b);
  const float dmin = Half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* q = b + 48;
  for (int is = 0; is < 8; is += 2, q += 32) {
    uint8_t sc, m;
    ScaleMinK4(is, scales, &sc, &m);
    const float d1 = d * sc, m1 = dmin * m;
    ScaleMinK4(is + 1, scales, &sc, &m);
    const float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l) {
      *y++ = d1 * ((q[l] & 0x0f) | (((qh[l] >> is) & 1) << 4)) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      *y++ = d2 * ((q[l] >> 4) | (((qh[l] >> (is + 1)) & 1) << 4)) - m2;
    }
  }
}

// K-quants with 2-bit low quants (Q2_K, Q3_K) share one element order: 16
// sub-blocks of 16; element e = 128n + 32j + 16h + l takes bits 2j..2j+1 of
// qs[32n + 16h + l] and belongs to sub-block 8n + 2j + h.
struct TwoBitPos {
  int sub;    // Sub-block, 0..15.
  int byte;   // Index into qs[64].
  int shift;  // 2j.
  int plane;  // 4n + j: Q3_K's hmask bit.
};

TwoBitPos TwoBitPosition(int e) {
  const int n = e / 128, j = (e % 128) / 32, h = (e % 32) / 16, l = e % 16;
  return {8 * n + 2 * j + h, 32 * n + 16 * h + l, 2 * j, 4 * n + j};
}

// block_q2_K { uint8 scales[16]; uint8 qs[64]; half d; half dmin; }: byte
// scales[s] = 4-bit scale (low nibble) | 4-bit min (high nibble);
// x = d * scale * q - dmin * min.
void DequantQ2_K(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = Half(b + 80);
  const float dmin = Half(b + 82);
  for (int e = 0; e < kQK_K; ++e) {
    const TwoBitPos p = TwoBitPosition(e);
    const int q = (qs[p.byte] >> p.shift) & 3;
    y[e] = d * (scales[p.sub] & 0x0f) * q - dmin * (scales[p.sub] >> 4);
  }
}

// Signed 6-bit scale s of block_q3_K from its 12 packed bytes: low 4 bits in
// the low (s < 8) or high (s >= 8) nibble of byte s % 8, high 2 bits at bit
// 2 * (s / 4) of byte 8 + s % 4; stored with a +32 bias.
int ScaleK3(int s, const uint8_t* p) {
  const int lo = s < 8 ? (p[s] & 0x0f) : (p[s - 8] >> 4);
  const int hi = (p[8 + s % 4] >> (2 * (s / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

// block_q3_K { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d; }:
// 3-bit q = 2 low bits from qs, minus 4 unless the hmask[16h + l] bit
// (4n + j) is set; x = d * scale * q.
void DequantQ3_K(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* scales = b + 96;
  const float d = Half(b + 108);
  int sc[16];
  for (int s = 0; s < 16; ++s) sc[s] = ScaleK3(s, scales);
  for (int e = 0; e < kQK_K; ++e) {
    const TwoBitPos p = TwoBitPosition(e);
    const int high = (hmask[p.byte % 32] >> p.plane) & 1;
    const int q = ((qs[p.byte] >> p.shift) & 3) - (high ? 0 : 4);
    y[e] = d * sc[p.sub] * q;
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
    case GgmlType::kQ5_0: return DequantQ5_0;
    case GgmlType::kQ5_1: return DequantQ5_1;
    case GgmlType::kQ2_K: return DequantQ2_K;
    case GgmlType::kQ3_K: return DequantQ3_K;
    case GgmlType::kQ4_K: return DequantQ4_K;
    case GgmlType::kQ5_K: return DequantQ5_K;
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
                                                 "BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, "
                                                 "Q3_K, Q4_K, Q5_K, Q6_K)"));
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
