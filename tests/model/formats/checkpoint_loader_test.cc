// The same tiny weights loaded from GGUF and from a Hugging Face directory
// give identical Checkpoints (names, shapes, dtypes, values), which checks
// the GGUF renaming, the Q/K un-permutation and GPT-2's Conv1D transposes.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>

#include <ATen/ATen.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/formats/checkpoint_loader.h"
#include "model/formats/gguf_writer.h"
#include "nlohmann/json.hpp"
#include "tests/model/formats/test_files.h"
#include "tools/make_tiny_model/tiny_model.h"

namespace tandem::model {
namespace {

using formats::DType;
using formats::GgmlType;
using ::testing::AllOf;
using ::testing::HasSubstr;

struct Case {
  std::string name;
  Architecture arch;
  bool bias;
  bool tie;
  int64_t kv_heads;
  GgmlType gguf_type;
  DType hf_dtype;
  int shards;
};

class GgufMatchesHfTest : public ::testing::TestWithParam<Case> {};

TEST_P(GgufMatchesHfTest, IdenticalCheckpoints) {
  const Case& c = GetParam();
  tools::TinyModelOptions o;
  o.architecture = c.arch;
  o.attention_bias = c.bias;
  o.tie_word_embeddings = c.tie;
  o.num_kv_heads = c.kv_heads;
  o.gguf_type = c.gguf_type;
  o.hf_dtype = c.hf_dtype;
  o.hf_shards = c.shards;
  o.vocab_size = 300;
  absl::StatusOr<tools::TinyModelPaths> paths = tools::WriteTinyModel(o, formats::TestDir(c.name));
  ASSERT_TRUE(paths.ok()) << paths.status();
  absl::StatusOr<Checkpoint> gguf = LoadGguf(paths->gguf_path);
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  absl::StatusOr<Checkpoint> hf = LoadCheckpoint(paths->hf_dir);
  ASSERT_TRUE(hf.ok()) << hf.status();

  const ModelConfig& a = gguf->config;
  const ModelConfig& b = hf->config;
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.num_key_value_heads, b.num_key_value_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.bos_token_ids, b.bos_token_ids);
  EXPECT_EQ(a.eos_token_ids, b.eos_token_ids);

  ASSERT_EQ(gguf->tensors.size(), hf->tensors.size());
  const bool exact = c.gguf_type == GgmlType::kF32 || c.gguf_type == GgmlType::kF16;
  for (const auto& [name, t] : hf->tensors) {
    ASSERT_EQ(gguf->tensors.count(name), 1u) << name;
    const at::Tensor& g = gguf->tensors.at(name);
    EXPECT_EQ(g.sizes(), t.sizes()) << name;
    if (exact && (t.dim() == 2 || c.hf_dtype == DType::kF32)) {
      EXPECT_EQ(g.scalar_type(), t.scalar_type()) << name;
      EXPECT_TRUE(at::equal(g, t)) << name;
    } else {
      // Q8_0: error <= half a step of max|x|/127 per 32-block, plus fp16 d.
      const double tol = t.abs().max().item<double>() / 127.0;
      EXPECT_LE((g.to(at::kFloat) - t.to(at::kFloat)).abs().max().item<double>(), tol) << name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, GgufMatchesHfTest,
    ::testing::Values(
        Case{"llama_f32", Architecture::kLlama, false, false, 2, GgmlType::kF32, DType::kF32, 1},
        Case{"llama_bias_mqa_tied", Architecture::kLlama, true, true, 1, GgmlType::kF32, DType::kF32, 1},
        Case{"llama_f16_sharded", Architecture::kLlama, false, false, 4, GgmlType::kF16, DType::kF16, 3},
        Case{"llama_q8_0", Architecture::kLlama, false, false, 2, GgmlType::kQ8_0, DType::kF32, 1},
        Case{"gpt2_f32", Architecture::kGpt2, false, false, 4, GgmlType::kF32, DType::kF32, 1},
        Case{"gpt2_tied_sharded", Architecture::kGpt2, false, true, 4, GgmlType::kF32, DType::kF32, 2}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(CheckpointLoaderTest, HfValuesAreTheWrittenWeights) {
  tools::TinyModelOptions o;
  o.vocab_size = 300;
  absl::StatusOr<tools::TinyModel> m = tools::MakeTinyModel(o);
  ASSERT_TRUE(m.ok());
  const std::string dir = formats::TestDir("hf_values");
  ASSERT_TRUE(tools::WriteTinyHfDir(*m, DType::kF32, 1, dir).ok());
  absl::StatusOr<Checkpoint> hf = LoadHfCheckpoint(dir);
  ASSERT_TRUE(hf.ok()) << hf.status();
  for (const tools::TinyWeight& w : m->weights) {
    const at::Tensor& t = hf->tensors.at(w.name);
    ASSERT_EQ(t.numel(), static_cast<int64_t>(w.values.size()));
    EXPECT_EQ(std::memcmp(t.data_ptr<float>(), w.values.data(), w.values.size() * 4), 0) << w.name;
  }
}

TEST(CheckpointLoaderTest, MissingTensorIsNamedWithItsExpectedShape) {
  tools::TinyModelOptions o;
  o.vocab_size = 300;
  absl::StatusOr<tools::TinyModel> m = tools::MakeTinyModel(o);
  ASSERT_TRUE(m.ok());
  m->weights.erase(std::remove_if(m->weights.begin(), m->weights.end(),
                                  [](const tools::TinyWeight& w) {
                                    return w.name == "model.layers.1.mlp.down_proj.weight";
                                  }),
                   m->weights.end());
  const std::string dir = formats::TestDir("missing");
  ASSERT_TRUE(tools::WriteTinyHfDir(*m, DType::kF32, 1, dir).ok());
  absl::Status s = LoadHfCheckpoint(dir).status();
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("model.layers.1.mlp.down_proj.weight"), HasSubstr("[64, 128]")));
  const std::string gguf = dir + "/m.gguf";
  ASSERT_TRUE(tools::WriteTinyGguf(*m, GgmlType::kF32, gguf).ok());
  EXPECT_THAT(std::string(LoadGguf(gguf).status().message()),
              AllOf(HasSubstr("blk.1.ffn_down.weight"), HasSubstr("missing")));
}

TEST(CheckpointLoaderTest, ShapeMismatchShowsExpectedAndFound) {
  tools::TinyModelOptions o;
  o.vocab_size = 300;
  absl::StatusOr<tools::TinyModelPaths> paths = tools::WriteTinyModel(o, formats::TestDir("shape"));
  ASSERT_TRUE(paths.ok());
  const std::string config_path = paths->hf_dir + "/config.json";
  nlohmann::json j = nlohmann::json::parse(formats::ReadString(config_path));
  j["intermediate_size"] = 96;
  formats::WriteString(config_path, j.dump());
  EXPECT_THAT(std::string(LoadHfCheckpoint(paths->hf_dir).status().message()),
              AllOf(HasSubstr("model.layers.0.mlp.gate_proj.weight"),
                    HasSubstr("expected shape [96, 64], found [128, 64]")));
}

TEST(CheckpointLoaderTest, UnsupportedGgufArchitecture) {
  formats::GgufWriter w;
  w.SetString("general.architecture", "mamba");
  const std::string path = formats::TestDir("arch") + "/m.gguf";
  ASSERT_TRUE(w.WriteFile(path).ok());
  absl::Status s = LoadGguf(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("mamba"));
}

}  // namespace
}  // namespace tandem::model
