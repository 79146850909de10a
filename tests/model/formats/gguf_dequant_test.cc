// Dequantization of hand-built blocks, checked against values worked out from
// the block definitions in ggml-common.h.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/formats/gguf_dequant.h"
#include "model/formats/gguf_quantize.h"
#include "model/formats/gguf_types.h"
#include "model/formats/half.h"

namespace tandem::model::formats {
namespace {

constexpr uint32_t T(GgmlType t) { return static_cast<uint32_t>(t); }

void PutHalf(uint16_t bits, std::vector<uint8_t>* b, size_t at) { std::memcpy(b->data() + at, &bits, 2); }

std::vector<float> Dequant(GgmlType type, const std::vector<uint8_t>& block, int64_t n) {
  std::vector<float> out(n);
  absl::Status s = DequantizeToFloat(T(type), block.data(), block.size(), n, out.data());
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// The 12 bytes of 6-bit (scale, min) pairs that Q4_K and Q5_K share, at
// b[4..16), for the sub-block scales kSc and mins kMn below.
constexpr int kSc[8] = {1, 2, 3, 4, 17, 33, 50, 63};
constexpr int kMn[8] = {0, 5, 10, 63, 16, 20, 40, 1};
void PackKScalesAndMins(std::vector<uint8_t>* b) {
  uint8_t* q = b->data() + 4;
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>(kSc[j] | ((kSc[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<uint8_t>(kMn[j] | ((kMn[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<uint8_t>((kSc[j + 4] & 0xf) | ((kMn[j + 4] & 0xf) << 4));
  }
}

TEST(HalfTest, KnownValuesAndRounding) {
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // Smallest subnormal.
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7c00)));
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);                 // Rounds to infinity.
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // Tie -> even.
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    ASSERT_EQ(FloatToHalf(HalfToFloat(static_cast<uint16_t>(h))), h);
  }
  EXPECT_EQ(Bf16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(FloatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // Tie -> even.
}

TEST(DequantTest, Q8_0IsScaleTimesSignedByte) {
  std::vector<uint8_t> b(34);
  PutHalf(0x3800, &b, 0);  // d = 0.5
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  const std::vector<float> y = Dequant(GgmlType::kQ8_0, b, 32);
  EXPECT_EQ(y[0], -8.0f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[31], 7.5f);
}

TEST(DequantTest, Q4_0LowNibblesFirstThenHighNibbles) {
  std::vector<uint8_t> b(18);
  PutHalf(0x4000, &b, 0);  // d = 2
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const std::vector<float> y = Dequant(GgmlType::kQ4_0, b, 32);
  EXPECT_EQ(y[0], -16.0f);   // (0 - 8) * 2
  EXPECT_EQ(y[15], 14.0f);   // (15 - 8) * 2
  EXPECT_EQ(y[16], 14.0f);   // high nibble of qs[0] = 15
  EXPECT_EQ(y[31], -16.0f);  // high nibble of qs[15] = 0
}

TEST(DequantTest, Q4_1IsScaleTimesNibblePlusMin) {
  std::vector<uint8_t> b(20);
  PutHalf(0x3400, &b, 0);  // d = 0.25
  PutHalf(0xbc00, &b, 2);  // m = -1
  for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const std::vector<float> y = Dequant(GgmlType::kQ4_1, b, 32);
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[5], 0.25f);
  EXPECT_EQ(y[16], 2.75f);
  EXPECT_EQ(y[31], -1.0f);
}

// block_q4_K: d, dmin, 12 bytes of 6-bit (scale, min) pairs for 8 sub-blocks
// of 32, then 128 bytes of nibbles (each 32 bytes: low nibbles = sub-block
// 2c, high nibbles = sub-block 2c+1).
TEST(DequantTest, Q4_KUnpacksSixBitScalesAndMins) {
  std::vector<uint8_t> b(144);
  PutHalf(0x3c00, &b, 0);  // d = 1
  PutHalf(0x3800, &b, 2);  // dmin = 0.5
  PackKScalesAndMins(&b);
  for (int i = 0; i < 128; ++i) b[16 + i] = static_cast<uint8_t>((i * 7) & 0xff);
  const std::vector<float> y = Dequant(GgmlType::kQ4_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, half = (e % 64) / 32, l = e % 32;
    const uint8_t byte = b[16 + c * 32 + l];
    const int nib = half == 0 ? (byte & 0xf) : (byte >> 4);
    const int sub = 2 * c + half;
    ASSERT_FLOAT_EQ(y[e], 1.0f * kSc[sub] * nib - 0.5f * kMn[sub]) << e;
  }
  // Spot checks: element 0: byte 0 -> nibble 0, sub-block 0: 1*0 - 0.5*0.
  EXPECT_EQ(y[0], 0.0f);
  // Element 255: c=3, high nibble of byte 16+96+31 = (127*7)&255 = 121 -> 7;
  // sub-block 7: 63*7 - 0.5*1.
  EXPECT_EQ(y[255], 440.5f);
}

// block_q6_K: ql[128], qh[64], int8 scales[16], d. Element 128*n + 32*k + l
// takes 4 low bits from ql[64n + l + 32*(k&1)] (low nibble for k<2, else
// high), 2 high bits from qh[32n + l] >> 2k, minus 32, times d * scales[8n +
// l/16 + 2k].
TEST(DequantTest, Q6_KCombinesLowAndHighBits) {
  std::vector<uint8_t> b(210, 0);
  PutHalf(0x3800, &b, 208);  // d = 0.5
  for (int i = 0; i < 16; ++i) b[192 + i] = static_cast<uint8_t>(static_cast<int8_t>(i - 8));
  b[0] = 0x3f;      // ql[0]: low nibble 15 (element 0), high nibble 3 (element 64)
  b[128] = 0xe4;    // qh[0] = 0b11100100: k=0 -> 0, k=1 -> 1, k=2 -> 2, k=3 -> 3
  b[32] = 0x21;     // ql[32]: low 1 (element 32), high 2 (element 96)
  const std::vector<float> y = Dequant(GgmlType::kQ6_K, b, 256);
  EXPECT_EQ(y[0], 0.5f * -8 * (15 - 32));                 // scale[0] = -8
  EXPECT_EQ(y[32], 0.5f * -6 * ((1 | (1 << 4)) - 32));    // scale[2] = -6
  EXPECT_EQ(y[64], 0.5f * -4 * ((3 | (2 << 4)) - 32));    // scale[4] = -4
  EXPECT_EQ(y[96], 0.5f * -2 * ((2 | (3 << 4)) - 32));    // scale[6] = -2
  EXPECT_EQ(y[1], 0.5f * -8 * -32);                       // all bits zero
  EXPECT_EQ(y[128 + 16], 0.5f * 1 * -32);                 // scale[8 + 1] = 1
}

// block_q5_0: d, qh (uint32, bit j = fifth bit of element j), qs[16] as in
// Q4_0; x = d * (q - 16). qh sets bits 0, 16 and 30.
TEST(DequantTest, Q5_0AddsFifthBitThenCentres) {
  std::vector<uint8_t> b(22);
  PutHalf(0x4000, &b, 0);  // d = 2
  b[2] = 0x01;             // qh bits 0..7: element 0
  b[4] = 0x01;             // qh bits 16..23: element 16
  b[5] = 0x40;             // qh bits 24..31: element 30
  for (int j = 0; j < 16; ++j) b[6 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const std::vector<float> y = Dequant(GgmlType::kQ5_0, b, 32);
  EXPECT_EQ(y[0], 0.0f);     // (0 | 16) - 16
  EXPECT_EQ(y[5], -22.0f);   // (5 - 16) * 2
  EXPECT_EQ(y[15], -2.0f);   // (15 - 16) * 2
  EXPECT_EQ(y[16], 30.0f);   // high nibble of qs[0] = 15, | 16 -> 31
  EXPECT_EQ(y[30], 2.0f);    // high nibble of qs[14] = 1, | 16 -> 17
  EXPECT_EQ(y[31], -32.0f);  // high nibble of qs[15] = 0, no fifth bit
}

// block_q5_1: d, m, qh, qs[16]; x = d * q + m with unsigned 5-bit q.
TEST(DequantTest, Q5_1IsScaleTimesFiveBitsPlusMin) {
  std::vector<uint8_t> b(24);
  PutHalf(0x3400, &b, 0);  // d = 0.25
  PutHalf(0xbc00, &b, 2);  // m = -1
  b[4] = 0x01;
  b[6] = 0x01;
  b[7] = 0x40;  // qh bits 0, 16, 30
  for (int j = 0; j < 16; ++j) b[8 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const std::vector<float> y = Dequant(GgmlType::kQ5_1, b, 32);
  EXPECT_EQ(y[0], 3.0f);    // 16 * 0.25 - 1
  EXPECT_EQ(y[5], 0.25f);   // 5 * 0.25 - 1
  EXPECT_EQ(y[16], 6.75f);  // 31 * 0.25 - 1
  EXPECT_EQ(y[30], 3.25f);  // 17 * 0.25 - 1
  EXPECT_EQ(y[31], -1.0f);
}

// block_q5_K: d, dmin, 12 scale bytes as in Q4_K, qh[32], qs[128]. Element
// 64c + 32h + l of sub-block s = 2c + h takes nibble h of qs[32c + l] and
// fifth bit s of qh[l].
TEST(DequantTest, Q5_KAddsFifthBitPerSubBlock) {
  std::vector<uint8_t> b(176);
  PutHalf(0x3c00, &b, 0);  // d = 1
  PutHalf(0x3800, &b, 2);  // dmin = 0.5
  PackKScalesAndMins(&b);
  b[16 + 0] = 0x01;   // qh[0]: element 0 (sub-block 0)
  b[16 + 3] = 0x04;   // qh[3]: element 67 (sub-block 2)
  b[16 + 31] = 0x80;  // qh[31]: element 255 (sub-block 7)
  for (int i = 0; i < 128; ++i) b[48 + i] = static_cast<uint8_t>((i * 7) & 0xff);
  const std::vector<float> y = Dequant(GgmlType::kQ5_K, b, 256);
  EXPECT_EQ(y[0], 16.0f);     // (0 | 16) * 1 - 0.5 * 0
  EXPECT_EQ(y[32], -2.5f);    // high nibble of qs[0] = 0, sub-block 1: 2*0 - 0.5*5
  EXPECT_EQ(y[67], 58.0f);    // low nibble of qs[35] = 245 -> 5, | 16: 3*21 - 0.5*10
  EXPECT_EQ(y[255], 1448.5f);  // high nibble of qs[127] = 121 -> 7, | 16: 63*23 - 0.5*1
  EXPECT_EQ(y[254], 440.5f);   // high nibble of qs[126] = 114 -> 7, no fifth bit
}

// block_q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
// Element 128n + 32j + 16h + l: bits 2j of qs[32n + 16h + l], sub-block
// 8n + 2j + h; x = d * scale * q - dmin * min.
TEST(DequantTest, Q2_KUnpacksFourBitScalesAndMinsAndTwoBitQuants) {
  std::vector<uint8_t> b(84, 0);
  for (int s = 0; s < 16; ++s) b[s] = static_cast<uint8_t>(s | ((15 - s) << 4));
  b[16 + 0] = 0xe4;   // qs[0] = 0b11100100: j=0 -> 0, j=1 -> 1, j=2 -> 2, j=3 -> 3
  b[16 + 53] = 0x03;  // qs[53]: element 128 + 16 + 5 (sub-block 9), q = 3
  b[16 + 63] = 0x80;  // qs[63] bits 6..7: element 255 (sub-block 15), q = 2
  PutHalf(0x3800, &b, 80);  // d = 0.5
  PutHalf(0x3400, &b, 82);  // dmin = 0.25
  const std::vector<float> y = Dequant(GgmlType::kQ2_K, b, 256);
  EXPECT_EQ(y[0], -3.75f);   // 0.5*0*0 - 0.25*15
  EXPECT_EQ(y[1], -3.75f);   // q = 0
  EXPECT_EQ(y[32], -2.25f);  // sub-block 2: 0.5*2*1 - 0.25*13
  EXPECT_EQ(y[64], 1.25f);   // sub-block 4: 0.5*4*2 - 0.25*11
  EXPECT_EQ(y[96], 6.75f);   // sub-block 6: 0.5*6*3 - 0.25*9
  EXPECT_EQ(y[149], 12.0f);  // 0.5*9*3 - 0.25*6
  EXPECT_EQ(y[255], 15.0f);  // 0.5*15*2 - 0.25*0
}

// block_q3_K: hmask[32], qs[64], scales[12], d. 2-bit quants and sub-blocks
// as in Q2_K; the third bit is bit 4n + j of hmask[16h + l], and a clear bit
// subtracts 4. Scale s (6 bits, +32 bias): low 4 bits in the low (s < 8) or
// high (s >= 8) nibble of scales[s % 8], high 2 bits at bit 2 * (s / 4) of
// scales[8 + s % 4].
TEST(DequantTest, Q3_KUnpacksSixBitScalesAndHighMask) {
  std::vector<uint8_t> b(110, 0);
  uint8_t* scales = b.data() + 96;
  scales[0] = 0x21;  // scale 0 low = 1, scale 8 low = 2
  scales[4] = 0x5f;  // scale 4 low = 15, scale 12 low = 5
  scales[8] = 0xe4;  // high bits: scale 0 -> 0, 4 -> 1, 8 -> 2, 12 -> 3
  // Scales: 0 -> 1 - 32 = -31, 4 -> 31 - 32 = -1, 8 -> 34 - 32 = 2,
  // 12 -> 53 - 32 = 21, all others 0 - 32 = -32.
  b[0] = 0x11;        // hmask[0]: planes 0 (element 0) and 4 (element 128)
  b[32 + 0] = 0x33;   // qs[0]: element 0 -> 3, element 64 -> 3
  b[32 + 32] = 0x02;  // qs[32]: element 128 -> 2, element 192 -> 0
  b[18] = 0x10;       // hmask[18]: plane 4 = element 128 + 16 + 2
  b[32 + 50] = 0x01;  // qs[50]: element 146 -> 1
  PutHalf(0x3800, &b, 108);  // d = 0.5
  const std::vector<float> y = Dequant(GgmlType::kQ3_K, b, 256);
  EXPECT_EQ(y[0], -46.5f);   // 0.5 * -31 * 3
  EXPECT_EQ(y[1], 62.0f);    // 0.5 * -31 * (0 - 4)
  EXPECT_EQ(y[64], 0.5f);    // 0.5 * -1 * (3 - 4)
  EXPECT_EQ(y[128], 2.0f);   // 0.5 * 2 * 2
  EXPECT_EQ(y[192], -42.0f); // 0.5 * 21 * (0 - 4)
  EXPECT_EQ(y[146], -16.0f); // 0.5 * -32 * 1 (sub-block 9)
  EXPECT_EQ(y[16], 64.0f);   // 0.5 * -32 * (0 - 4) (sub-block 1)
}

TEST(DequantTest, RejectsPartialBlocksWrongSizesAndUnknownTypes) {
  std::vector<uint8_t> b(36);
  std::vector<float> y(64);
  EXPECT_EQ(DequantizeToFloat(T(GgmlType::kQ8_0), b.data(), 34, 31, y.data()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DequantizeToFloat(T(GgmlType::kQ8_0), b.data(), 33, 32, y.data()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DequantizeToFloat(T(GgmlType::kQ8_1), b.data(), 36, 32, y.data()).code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(DequantizeToFloat(999, b.data(), 34, 32, y.data()).code(),
            absl::StatusCode::kUnimplemented);
}

class QuantRoundTripTest : public ::testing::TestWithParam<std::pair<GgmlType, float>> {};

TEST_P(QuantRoundTripTest, ErrorWithinOneStep) {
  const auto [type, steps] = GetParam();
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> x(256);
  for (float& v : x) v = normal(rng);
  absl::StatusOr<std::vector<uint8_t>> bytes = EncodeGgml(type, x.data(), 256);
  ASSERT_TRUE(bytes.ok());
  const std::vector<float> y = Dequant(type, *bytes, 256);
  for (int block = 0; block < 8; ++block) {
    float lo = x[block * 32], hi = lo, amax = 0;
    for (int j = 0; j < 32; ++j) {
      lo = std::min(lo, x[block * 32 + j]);
      hi = std::max(hi, x[block * 32 + j]);
      amax = std::max(amax, std::fabs(x[block * 32 + j]));
    }
    const float step = type == GgmlType::kQ4_1 ? (hi - lo) / steps : amax / steps;
    for (int j = 0; j < 32; ++j) {
      const int i = block * 32 + j;
      ASSERT_NEAR(y[i], x[i], step + 2e-3f * amax) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantRoundTripTest,
                         ::testing::Values(std::make_pair(GgmlType::kQ8_0, 127.0f),
                                           std::make_pair(GgmlType::kQ4_0, 8.0f),
                                           std::make_pair(GgmlType::kQ4_1, 15.0f)));

}  // namespace
}  // namespace tandem::model::formats
