// Truncated and bit-flipped checkpoint files must give errors (or, for flips
// inside tensor data, other values), never a crash or an out-of-bounds read
// (run under --config=asan to check the latter).
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "model/formats/gguf_checkpoint.h"
#include "model/formats/hf_checkpoint.h"
#include "model/formats/raw_checkpoint.h"
#include "tests/model/formats/test_files.h"
#include "tools/make_tiny_model/tiny_model.h"

namespace tandem::model::formats {
namespace {

// Loads everything; returns whether it all succeeded.
bool LoadAll(const absl::StatusOr<RawCheckpoint>& raw) {
  if (!raw.ok()) {
    EXPECT_FALSE(raw.status().message().empty());
    return false;
  }
  for (const auto& [name, tensor] : raw->tensors) {
    if (!Materialize(tensor).ok()) return false;
  }
  return true;
}

class MalformedFuzzTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    tools::TinyModelOptions o;
    o.vocab_size = 300;
    o.gguf_type = GgmlType::kQ8_0;
    dir_ = TestDir("fuzz");
    absl::StatusOr<tools::TinyModelPaths> paths = tools::WriteTinyModel(o, dir_);
    ASSERT_TRUE(paths.ok()) << paths.status();
    gguf_ = GetParam();
    original_path_ = gguf_ ? paths->gguf_path : paths->hf_dir + "/model.safetensors";
    original_ = ReadString(original_path_);
  }

  // Writes `bytes` where the loader under test looks and loads it.
  bool Load(const std::string& bytes) {
    WriteString(original_path_, bytes);
    return gguf_ ? LoadAll(ReadGgufCheckpoint(original_path_))
                 : LoadAll(ReadHfCheckpoint(dir_ + "/hf"));
  }

  bool gguf_ = true;
  std::string dir_, original_path_, original_;
};

TEST_P(MalformedFuzzTest, EveryTruncationIsAnError) {
  ASSERT_TRUE(Load(original_));
  for (int k = 0; k < 64; ++k) {
    EXPECT_FALSE(Load(original_.substr(0, original_.size() * k / 64))) << k << "/64";
  }
}

TEST_P(MalformedFuzzTest, RandomByteFlipsNeverCrash) {
  std::mt19937_64 rng(42);
  // Half of the flips land in the first 16 KiB (header, metadata, vocab).
  const size_t head = std::min<size_t>(original_.size(), 16384);
  int failures = 0;
  for (int iter = 0; iter < 300; ++iter) {
    std::string bytes = original_;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) {
      const size_t span = (iter % 2 == 0) ? head : bytes.size();
      bytes[rng() % span] ^= static_cast<char>(1 + rng() % 255);
    }
    failures += Load(bytes) ? 0 : 1;
  }
  EXPECT_GT(failures, 0);  // Header damage must be detected.
}

INSTANTIATE_TEST_SUITE_P(Formats, MalformedFuzzTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "gguf" : "safetensors";
                         });

}  // namespace
}  // namespace tandem::model::formats
