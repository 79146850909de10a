#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/formats/safetensors_reader.h"
#include "model/formats/safetensors_writer.h"
#include "tests/model/formats/test_files.h"

namespace tandem::model::formats {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::vector<SafetensorsEntry> SampleTensors() {
  std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f};
  std::vector<float> b = {0.5f, -0.75f, 100.0f, 3.0f};
  return {{"a", DType::kF32, {2, 3}, EncodeFloats(a, DType::kF32)},
          {"b", DType::kF16, {4}, EncodeFloats(b, DType::kF16)},
          {"c", DType::kBF16, {2, 2}, EncodeFloats(b, DType::kBF16)},
          {"empty", DType::kF32, {0, 5}, {}}};
}

// Header JSON + data, with an explicit 8-byte length.
std::string MakeFile(const std::string& json, const std::string& data, uint64_t len_override = 0) {
  std::string out(8, '\0');
  const uint64_t len = len_override ? len_override : json.size();
  std::memcpy(out.data(), &len, 8);
  return out + json + data;
}

absl::Status OpenStatus(const std::string& bytes) {
  const std::string path = TestDir("st") + "/m.safetensors";
  WriteString(path, bytes);
  return SafetensorsFile::Open(path).status();
}

TEST(SafetensorsTest, SingleFileRoundTripsEveryDtype) {
  const std::string dir = TestDir("single");
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", SampleTensors()).ok());
  absl::StatusOr<std::map<std::string, RawTensor>> read = ReadSafetensorsDir(dir);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 4u);
  for (const SafetensorsEntry& e : SampleTensors()) {
    const RawTensor& t = read->at(e.name);
    EXPECT_EQ(t.dtype, e.dtype) << e.name;
    EXPECT_EQ(t.shape, e.shape) << e.name;
    absl::StatusOr<std::vector<uint8_t>> bytes = Materialize(t);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(*bytes, e.data) << e.name;
  }
}

TEST(SafetensorsTest, ShardedDirectoryRoundTrips) {
  const std::string dir = TestDir("sharded");
  ASSERT_TRUE(WriteShardedSafetensors(dir, SampleTensors(), 3).ok());
  EXPECT_FALSE(ReadString(dir + "/model-00003-of-00003.safetensors").empty());
  absl::StatusOr<std::map<std::string, RawTensor>> read = ReadSafetensorsDir(dir);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 4u);
  for (const SafetensorsEntry& e : SampleTensors()) {
    EXPECT_EQ(*Materialize(read->at(e.name)), e.data) << e.name;
  }
}

TEST(SafetensorsTest, IndexNamingATensorAbsentFromItsShardIsAnError) {
  const std::string dir = TestDir("badindex");
  ASSERT_TRUE(WriteShardedSafetensors(dir, SampleTensors(), 2).ok());
  WriteString(dir + "/model.safetensors.index.json",
              R"({"weight_map": {"a": "model-00002-of-00002.safetensors"}})");
  absl::Status s = ReadSafetensorsDir(dir).status();
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("\"a\""), HasSubstr("model-00002-of-00002.safetensors")));
}

TEST(SafetensorsTest, IndexShardOutsideTheDirectoryIsRejected) {
  const std::string dir = TestDir("traversal");
  WriteString(dir + "/model.safetensors.index.json", R"({"weight_map": {"a": "../x.safetensors"}})");
  EXPECT_THAT(std::string(ReadSafetensorsDir(dir).status().message()),
              HasSubstr("not a plain file name"));
}

TEST(SafetensorsTest, MissingFilesNameTheDirectory) {
  const std::string dir = TestDir("nothing");
  absl::Status s = ReadSafetensorsDir(dir).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr(dir));
}

TEST(SafetensorsTest, TooShortForTheLength) {
  absl::Status s = OpenStatus("abc");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("m.safetensors"));
}

TEST(SafetensorsTest, HeaderLengthPastTheEnd) {
  absl::Status s = OpenStatus(MakeFile("{}", "", 1000));
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("header length 1000"), HasSubstr("10 bytes")));
}

TEST(SafetensorsTest, InvalidJson) {
  EXPECT_THAT(std::string(OpenStatus(MakeFile("{\"a\": ", "")).message()),
              HasSubstr("not a valid JSON"));
}

TEST(SafetensorsTest, OffsetsPastTheEndNameTheTensor) {
  absl::Status s = OpenStatus(MakeFile(
      R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", std::string(8, '\0')));
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("\"w\""), HasSubstr("[0, 16]"), HasSubstr("8 bytes")));
}

TEST(SafetensorsTest, ShapeNotMatchingByteCount) {
  absl::Status s = OpenStatus(MakeFile(
      R"({"w": {"dtype": "F16", "shape": [3, 2], "data_offsets": [0, 8]}})", std::string(8, '\0')));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("\"w\""), HasSubstr("[3, 2]"), HasSubstr("needs 12 bytes"),
                    HasSubstr("hold 8")));
}

TEST(SafetensorsTest, UnsupportedDtype) {
  absl::Status s = OpenStatus(MakeFile(
      R"({"ids": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}})", std::string(8, '\0')));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("\"ids\""), HasSubstr("I64")));
}

TEST(SafetensorsTest, OverlappingTensors) {
  absl::Status s = OpenStatus(MakeFile(
      R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
      std::string(12, '\0')));
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("overlap"), HasSubstr("\"x\""), HasSubstr("\"y\"")));
}

TEST(SafetensorsTest, HugeShapeOverflowIsAnError) {
  absl::Status s = OpenStatus(MakeFile(
      R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 0]}})", ""));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(SafetensorsTest, NegativeDimIsAnError) {
  absl::Status s = OpenStatus(MakeFile(
      R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", std::string(4, '\0')));
  EXPECT_THAT(std::string(s.message()), HasSubstr("negative"));
}

}  // namespace
}  // namespace tandem::model::formats
