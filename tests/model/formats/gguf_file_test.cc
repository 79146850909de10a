#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/formats/gguf_dequant.h"
#include "model/formats/gguf_file.h"
#include "model/formats/gguf_writer.h"
#include "model/formats/half.h"
#include "tests/model/formats/test_files.h"

namespace tandem::model::formats {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Write(const std::string& bytes) {
  const std::string path = TestDir("gguf") + "/m.gguf";
  WriteString(path, bytes);
  return path;
}

std::vector<float> Ramp(int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = 0.01f * i - 0.3f;
  return v;
}

std::vector<float> ReadFloats(const GgufFile& g, const std::string& name) {
  const GgufTensorInfo* info = g.FindTensor(name);
  EXPECT_NE(info, nullptr) << name;
  std::vector<float> out(info->NumElements());
  EXPECT_TRUE(DequantizeToFloat(info->type, g.TensorData(*info), info->nbytes, info->NumElements(),
                                out.data()).ok());
  return out;
}

TEST(GgufFileTest, MetadataOfEveryTypeRoundTrips) {
  GgufWriter w;
  w.SetUint32("u32", 4000000000u);
  w.SetInt32("i32", -7);
  w.SetUint64("u64", 1ull << 40);
  w.SetFloat32("f32", 0.5f);
  w.SetBool("flag", true);
  w.SetString("s", "héllo");
  w.SetStringArray("strs", {"a", "", "ccc"});
  w.SetInt32Array("ints", {1, -2, 3});
  w.SetFloat32Array("floats", {1.5f, -2.0f});
  w.SetRaw("u8", GgufValueType::kUint8, {200});
  w.SetRaw("i8", GgufValueType::kInt8, {0xff});
  w.SetRaw("i16", GgufValueType::kInt16, {0x00, 0x80});
  w.SetRaw("u16", GgufValueType::kUint16, {0x34, 0x12});
  std::vector<uint8_t> i64(8, 0xff);
  w.SetRaw("i64", GgufValueType::kInt64, i64);
  double pi = 3.25;
  std::vector<uint8_t> f64(8);
  std::memcpy(f64.data(), &pi, 8);
  w.SetRaw("f64", GgufValueType::kFloat64, f64);
  // An array of 2 arrays of uint8: [[1], [2, 3]].
  w.SetRaw("nested", GgufValueType::kArray,
           {9, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,  //
            0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,  //
            0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 3});
  absl::StatusOr<GgufFile> g = GgufFile::Open(Write(w.Serialize()));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(*g->GetInt("u32"), 4000000000);
  EXPECT_EQ(*g->GetInt("i32"), -7);
  EXPECT_EQ(*g->GetInt("u64"), 1ll << 40);
  EXPECT_EQ(*g->GetFloat("f32"), 0.5);
  EXPECT_EQ(g->Find("flag")->u, 1u);
  EXPECT_EQ(*g->GetString("s"), "héllo");
  EXPECT_EQ(g->Find("strs")->array.size(), 3u);
  EXPECT_EQ(g->Find("strs")->array[2].s, "ccc");
  EXPECT_EQ(g->Find("ints")->array[1].i, -2);
  EXPECT_EQ(g->Find("floats")->array[0].f, 1.5);
  EXPECT_EQ(*g->GetInt("u8"), 200);
  EXPECT_EQ(*g->GetInt("i8"), -1);
  EXPECT_EQ(*g->GetInt("i16"), -32768);
  EXPECT_EQ(*g->GetInt("u16"), 0x1234);
  EXPECT_EQ(*g->GetInt("i64"), -1);
  EXPECT_EQ(*g->GetFloat("f64"), 3.25);
  ASSERT_EQ(g->Find("nested")->array.size(), 2u);
  EXPECT_EQ(g->Find("nested")->array[1].array[1].u, 3u);
  EXPECT_EQ(g->GetString("u32").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g->GetInt("absent").status().code(), absl::StatusCode::kNotFound);
}

TEST(GgufFileTest, TensorsRoundTripWithReversedDimsAndAlignment) {
  GgufWriter w;
  w.SetUint32("general.alignment", 64);
  const std::vector<float> x = Ramp(96);
  ASSERT_TRUE(w.AddTensor("f32", {3, 32}, GgmlType::kF32, x).ok());
  ASSERT_TRUE(w.AddTensor("f16", {3, 32}, GgmlType::kF16, x).ok());
  ASSERT_TRUE(w.AddTensor("bf16", {96}, GgmlType::kBF16, x).ok());
  ASSERT_TRUE(w.AddTensor("q8", {3, 32}, GgmlType::kQ8_0, x).ok());
  absl::StatusOr<GgufFile> g = GgufFile::Open(Write(w.Serialize()));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->alignment(), 64u);
  EXPECT_EQ(g->data_offset() % 64, 0u);
  const GgufTensorInfo* q8 = g->FindTensor("q8");
  ASSERT_NE(q8, nullptr);
  EXPECT_EQ(q8->ne, (std::vector<int64_t>{32, 3}));
  EXPECT_EQ(q8->TorchShape(), (std::vector<int64_t>{3, 32}));
  EXPECT_EQ(q8->nbytes, 3u * 34);
  for (const GgufTensorInfo& t : g->tensors()) EXPECT_EQ(t.offset % 64, 0u) << t.name;
  EXPECT_EQ(ReadFloats(*g, "f32"), x);
  const std::vector<float> f16 = ReadFloats(*g, "f16");
  const std::vector<float> bf16 = ReadFloats(*g, "bf16");
  const std::vector<float> q = ReadFloats(*g, "q8");
  for (int i = 0; i < 96; ++i) {
    EXPECT_EQ(f16[i], HalfToFloat(FloatToHalf(x[i])));
    EXPECT_EQ(bf16[i], Bf16ToFloat(FloatToBf16(x[i])));
    EXPECT_NEAR(q[i], x[i], 0.7f / 127);
  }
}

TEST(GgufFileTest, AcceptsVersion2) {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  std::string bytes = w.Serialize();
  bytes[4] = 2;
  EXPECT_TRUE(GgufFile::Open(Write(bytes)).ok());
}

absl::Status OpenStatus(const std::string& bytes) { return GgufFile::Open(Write(bytes)).status(); }

TEST(GgufMalformedTest, BadMagic) {
  absl::Status s = OpenStatus("GGML\x03\0\0\0");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("m.gguf"), HasSubstr("GGML")));
}

TEST(GgufMalformedTest, UnsupportedVersions) {
  std::string bytes = GgufWriter().Serialize();
  bytes[4] = 1;
  EXPECT_EQ(OpenStatus(bytes).code(), absl::StatusCode::kUnimplemented);
  bytes[4] = 0;
  bytes[7] = 3;  // 0x03000000: a big-endian v3 file.
  EXPECT_THAT(std::string(OpenStatus(bytes).message()), HasSubstr("big-endian"));
}

TEST(GgufMalformedTest, HugeCountsAreRejectedBeforeAllocating) {
  std::string bytes = GgufWriter().Serialize();
  const uint64_t huge = 1ull << 60;
  std::memcpy(bytes.data() + 16, &huge, 8);  // n_kv
  EXPECT_EQ(OpenStatus(bytes).code(), absl::StatusCode::kOutOfRange);
}

TEST(GgufMalformedTest, HugeArrayCountNamesTheKey) {
  GgufWriter w;
  std::vector<uint8_t> payload = {4, 0, 0, 0};  // uint32 elements
  for (int i = 0; i < 8; ++i) payload.push_back(0xff);
  w.SetRaw("tokenizer.ggml.scores", GgufValueType::kArray, payload);
  absl::Status s = OpenStatus(w.Serialize());
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(s.message()), HasSubstr("tokenizer.ggml.scores"));
}

TEST(GgufMalformedTest, StringLengthPastTheEnd) {
  GgufWriter w;
  w.SetRaw("name", GgufValueType::kString, {0x00, 0x10, 0, 0, 0, 0, 0, 0, 'x'});
  absl::Status s = OpenStatus(w.Serialize());
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"name\""));
}

TEST(GgufMalformedTest, TensorDataPastTheEndNamesTheTensor) {
  GgufWriter w;
  w.AddRawTensor("blk.0.attn_q.weight", {64, 4}, 0, std::vector<uint8_t>(16));
  absl::Status s = OpenStatus(w.Serialize());
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("blk.0.attn_q.weight"), HasSubstr("1024 bytes"), HasSubstr("past the end")));
}

TEST(GgufMalformedTest, RowNotWholeBlocks) {
  GgufWriter w;
  w.AddRawTensor("t", {16}, static_cast<uint32_t>(GgmlType::kQ8_0), std::vector<uint8_t>(34));
  EXPECT_THAT(std::string(OpenStatus(w.Serialize()).message()),
              AllOf(HasSubstr("\"t\""), HasSubstr("Q8_0"), HasSubstr("multiple of 32")));
}

TEST(GgufMalformedTest, BadAlignmentAndDims) {
  GgufWriter w;
  w.SetUint32("general.alignment", 48);
  EXPECT_THAT(std::string(OpenStatus(w.Serialize()).message()), HasSubstr("power-of-two"));
  GgufWriter w2;
  w2.AddRawTensor("t", {1, 1, 1, 1, 1}, 0, std::vector<uint8_t>(4));
  EXPECT_THAT(std::string(OpenStatus(w2.Serialize()).message()), HasSubstr("found 5"));
}

TEST(GgufMalformedTest, NegativeDimAndOverflowingElementCount) {
  GgufWriter w;
  w.AddRawTensor("neg", {-4}, 0, {});
  EXPECT_THAT(std::string(OpenStatus(w.Serialize()).message()), HasSubstr("negative"));
  GgufWriter w2;
  w2.AddRawTensor("big", {1ll << 40, 1ll << 40}, 0, {});
  EXPECT_THAT(std::string(OpenStatus(w2.Serialize()).message()), HasSubstr("overflows"));
}

TEST(GgufMalformedTest, UnknownTensorTypeOpensButCannotBeDequantized) {
  GgufWriter w;
  w.AddRawTensor("iq", {256}, 23, std::vector<uint8_t>(136));  // IQ4_XS
  absl::StatusOr<GgufFile> g = GgufFile::Open(Write(w.Serialize()));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_FALSE(g->FindTensor("iq")->known_type);
}

TEST(GgufMalformedTest, TruncatedHeaderIsOutOfRange) {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  const std::string bytes = w.Serialize();
  // Header (24) + key (8 + 20) + type (4) + value (8 + 5); then only padding.
  const size_t end = 24 + 28 + 4 + 13;
  for (size_t n = 0; n < end; ++n) {
    absl::Status s = OpenStatus(bytes.substr(0, n));
    EXPECT_FALSE(s.ok()) << n;
  }
  EXPECT_TRUE(OpenStatus(bytes.substr(0, end)).ok());
}

}  // namespace
}  // namespace tandem::model::formats
