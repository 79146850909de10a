// Independent check of Q5_0 / Q5_1 / Q2_K / Q3_K / Q5_K dequantization:
// a tiny Llama whose 2-D weights are random (but well-formed: finite, small
// scale halves) blocks of one type, run by llama.cpp (node-llama-cpp) and by
// tandem on the same file. Both dequantize the same bytes, so the logits must
// agree up to llama.cpp's activation quantization (its CPU matmul quantizes
// activations to Q8_0 / Q8_1 / Q8_K blocks); a misplaced bit, scale or sign
// moves them by O(1).
#include <cstdint>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <ATen/ATen.h>

#include "gtest/gtest.h"
#include "model/formats/checkpoint_loader.h"
#include "model/formats/gguf_types.h"
#include "model/formats/half.h"
#include "model/transformer_model.h"
#include "tests/conformance/llama_cpp/oracle.h"
#include "tests/testing/oracles.h"
#include "tools/make_tiny_model/tiny_model.h"

namespace tandem::testing {
namespace {

using model::formats::FindGgmlType;
using model::formats::GgmlType;
using model::formats::GgmlTypeTraits;

constexpr int64_t kVocab = 320;

struct HalfField {
  int offset;  // Byte offset in the block.
  float scale;  // Stored value: scale * U(0.5, 1).
};

struct Case {
  std::string name;
  GgmlType type;
  std::vector<HalfField> halves;  // Everything else in a block is random bytes.
};

// Scales chosen so that weights are O(0.05) (max |q| x scale bits x d).
const Case kCases[] = {
    {"q5_0", GgmlType::kQ5_0, {{0, 0.004f}}},
    {"q5_1", GgmlType::kQ5_1, {{0, 0.004f}, {2, -0.06f}}},
    {"q2_k", GgmlType::kQ2_K, {{80, 0.002f}, {82, 0.002f}}},
    {"q3_k", GgmlType::kQ3_K, {{108, 0.0005f}}},
    {"q5_k", GgmlType::kQ5_K, {{0, 0.00005f}, {2, 0.0001f}}},
};

std::vector<uint8_t> RandomBlocks(const Case& c, const std::vector<int64_t>& ne,
                                  std::mt19937_64& rng) {
  const GgmlTypeTraits* t = FindGgmlType(static_cast<uint32_t>(c.type));
  const int64_t blocks = ne[0] * ne[1] / t->block_size;
  std::vector<uint8_t> bytes(blocks * t->type_size);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> unit(0.5f, 1.0f);
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* block = bytes.data() + b * t->type_size;
    for (int64_t i = 0; i < t->type_size; ++i) block[i] = static_cast<uint8_t>(byte(rng));
    for (const HalfField& h : c.halves) {
      const uint16_t bits = model::formats::FloatToHalf(h.scale * unit(rng));
      std::memcpy(block + h.offset, &bits, 2);
    }
  }
  return bytes;
}

class LlamaCppQuantBlocksTest : public ::testing::TestWithParam<Case> {};

TEST_P(LlamaCppQuantBlocksTest, SameBytesGiveSameLogits) {
  const Case& c = GetParam();
  tools::TinyModelOptions options;
  options.vocab_size = kVocab;
  options.hidden_size = 256;  // K-quant rows need a multiple of 256 elements.
  options.num_layers = 2;
  options.num_heads = 4;
  options.num_kv_heads = 2;
  options.seed = 11;
  absl::StatusOr<tools::TinyModel> tiny = tools::MakeTinyModel(options);
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  const std::string path = MakeTempDir("quant_blocks_" + c.name) + "/model.gguf";
  std::mt19937_64 rng(5);
  ASSERT_TRUE(tools::WriteTinyGgufRaw(
                  *tiny, static_cast<uint32_t>(c.type),
                  [&](const std::string&, const std::vector<int64_t>& ne) {
                    return RandomBlocks(c, ne, rng);
                  },
                  path)
                  .ok());

  const std::vector<int64_t> prompt = {1, 100, 37, 250, 5, 300, 42, 42};
  LlamaCppOracleRequest request;
  request.gguf_path = path;
  request.prompt_ids = prompt;
  request.n_greedy = 0;
  request.all_positions = true;
  request.kv_type = "F32";
  absl::StatusOr<LlamaCppOracleResult> oracle = RunLlamaCppOracle(request);
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  ASSERT_EQ(oracle->logits.size(), prompt.size());

  absl::StatusOr<model::Checkpoint> checkpoint = model::LoadCheckpoint(path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  absl::StatusOr<std::unique_ptr<model::TransformerModel>> ours =
      model::TransformerModel::Create(*checkpoint, {});
  ASSERT_TRUE(ours.ok()) << ours.status();
  absl::StatusOr<at::Tensor> logits = (*ours)->ForwardOne(1, prompt);
  ASSERT_TRUE(logits.ok()) << logits.status();

  at::Tensor reference = at::empty({static_cast<int64_t>(prompt.size()), kVocab}, at::kFloat);
  for (size_t r = 0; r < prompt.size(); ++r) {
    ASSERT_EQ(oracle->logits[r].size(), static_cast<size_t>(kVocab));
    std::memcpy(reference[r].data_ptr<float>(), oracle->logits[r].data(), kVocab * sizeof(float));
  }
  const at::Tensor diff = logits->to(at::kFloat) - reference;
  const double scale = reference.abs().max().item<double>();
  const double spread =
      (std::get<0>(reference.max(1)) - std::get<0>(reference.min(1))).min().item<double>();
  const double max_diff = diff.abs().max().item<double>();
  std::cout << "[numerics] quant_blocks " << c.name << ": max|diff|=" << max_diff
            << " scale=" << scale << " rel=" << max_diff / scale << std::endl;
  EXPECT_GT(spread, 0.5);  // Meaningful only if logits vary.
  EXPECT_LE(max_diff, 4e-2 * scale);
}

INSTANTIATE_TEST_SUITE_P(Types, LlamaCppQuantBlocksTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace tandem::testing
