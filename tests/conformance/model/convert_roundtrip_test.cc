// tools/convert (Hugging Face directory -> GGUF) round trips:
//  - the shipped target and a tiny random model, converted to F32 / F16 /
//    BF16 / Q8_0 GGUF and loaded by our GGUF loader, give the HF load's
//    logits (F32 bit-identical; the others within the stated tolerance of
//    the storage rounding);
//  - the tokenizer embedded in the GGUF encodes a Unicode corpus and the
//    benchmark prompts exactly as the directory's tokenizer.model;
//  - llama.cpp (node-llama-cpp) loads the converted shipped target and its
//    64-token F32 greedy continuation equals ours;
//  - bad input fails with an error naming the path or tensor.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/formats/checkpoint_loader.h"
#include "model/transformer_model.h"
#include "tests/conformance/llama_cpp/oracle.h"
#include "tests/conformance/tokenizer/corpus.h"
#include "tests/conformance/tokenizer/gpt2_vocab.h"
#include "tests/testing/oracles.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/load_tokenizer.h"
#include "tools/convert/hf_to_gguf.h"
#include "tools/make_tiny_model/tiny_model.h"

namespace tandem::testing {
namespace {

using model::formats::GgmlType;

const std::vector<int64_t> kPrompt = {1, 450, 4996, 1735, 1701, 432, 278, 7366, 1203, 2988, 13, 300};

std::string Target() { return RunfilePath("assets/target").value(); }

absl::StatusOr<std::unique_ptr<model::TransformerModel>> LoadModel(const std::string& path) {
  absl::StatusOr<model::Checkpoint> checkpoint = model::LoadCheckpoint(path);
  if (!checkpoint.ok()) return checkpoint.status();
  model::TransformerOptions options;
  options.dtype = at::kFloat;
  options.max_context = 128;
  return model::TransformerModel::Create(*checkpoint, options);
}

at::Tensor Logits(const std::string& path) {
  auto m = LoadModel(path);
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return at::Tensor();
  absl::StatusOr<at::Tensor> logits = (*m)->ForwardOne(1, kPrompt, 0, /*all_logits=*/true);
  EXPECT_TRUE(logits.ok()) << logits.status();
  return logits.ok() ? logits->to(at::kFloat) : at::Tensor();
}

std::string Convert(const std::string& dir, GgmlType type, const std::string& name) {
  tools::ConvertOptions options;
  options.input_dir = dir;
  options.output_path = MakeTempDir("convert") + "/" + name + ".gguf";
  options.type = type;
  const absl::Status s = tools::ConvertHfToGguf(options);
  EXPECT_TRUE(s.ok()) << s;
  return options.output_path;
}

// A tiny random Llama (or `variant`) whose HF directory carries the shipped
// tokenizer.model.
std::string TinyHfDir(const tools::TinyModelOptions& base = {}) {
  tools::TinyModelOptions options = base;
  options.vocab_size = 8000;
  if (options.variant == model::LlamaVariant::kLlama) options.num_layers = 2;
  options.seed = 11;
  absl::StatusOr<tools::TinyModelPaths> paths = tools::WriteTinyModel(options, MakeTempDir("tiny"));
  EXPECT_TRUE(paths.ok()) << paths.status();
  std::ifstream src(Target() + "/tokenizer.model", std::ios::binary);
  std::ofstream(paths->hf_dir + "/tokenizer.model", std::ios::binary) << src.rdbuf();
  return paths->hf_dir;
}

void ExpectIdenticalEncodes(const tokenizer::Tokenizer& gguf, const tokenizer::Tokenizer& original,
                            const std::vector<std::string>& texts, const std::string& what) {
  int identical = 0;
  for (const std::string& text : texts) {
    auto a = gguf.Encode(text);
    auto b = original.Encode(text);
    ASSERT_TRUE(a.ok() && b.ok()) << text;
    identical += *a == *b;
  }
  EXPECT_EQ(identical, static_cast<int>(texts.size()));
  std::cout << "[convert] " << what << ": " << identical << "/" << texts.size()
            << " encodes identical\n";
}

struct Case {
  std::string name;
  GgmlType type;
  double rel_tolerance;  // max |GGUF - HF logits| / max |HF logit|; 0: bit-identical
};

class ConvertRoundTripTest : public ::testing::TestWithParam<Case> {};

// Tolerances (relative to max |logit|): F16 keeps 11 mantissa bits, BF16 8,
// Q8_0 8-bit blocks of 32 with an F16 scale. Measured (printed as
// "[convert]"): F16 5.9e-4 (tiny) / 2.5e-7 (target), BF16 4.1e-3 (tiny) /
// 0 (target, already bfloat16), Q8_0 1.3e-2 / 8.7e-3; limits >3.5x those.
TEST_P(ConvertRoundTripTest, GgufLogitsMatchTheHfLoad) {
  const Case& c = GetParam();
  const std::string tiny = TinyHfDir();
  for (const std::string& dir : {tiny, Target()}) {
    const std::string gguf = Convert(dir, c.type, c.name);
    const at::Tensor hf = Logits(dir);
    const at::Tensor ours = Logits(gguf);
    ASSERT_TRUE(hf.defined() && ours.defined());
    const double scale = hf.abs().max().item<double>();
    const double diff = (ours - hf).abs().max().item<double>();
    std::cout << "[convert] " << c.name << " " << dir << ": max|diff|=" << diff
              << " scale=" << scale << " rel=" << diff / scale << std::endl;
    EXPECT_GT(scale, 1.0);
    // The shipped target is stored as bfloat16, so BF16 loses nothing there.
    const bool lossless = c.rel_tolerance == 0 || (c.type == GgmlType::kBF16 && dir != tiny);
    if (lossless) {
      EXPECT_TRUE(at::equal(ours, hf)) << "a lossless conversion must be bit-identical";
    } else {
      EXPECT_LE(diff, c.rel_tolerance * scale);
      if (dir == tiny) EXPECT_GT(diff, 0.0) << "lossy storage of F32 weights changed nothing";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, ConvertRoundTripTest,
                         ::testing::Values(Case{"f32", GgmlType::kF32, 0.0},
                                           Case{"f16", GgmlType::kF16, 5e-3},
                                           Case{"bf16", GgmlType::kBF16, 2e-2},
                                           Case{"q8_0", GgmlType::kQ8_0, 5e-2}),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(ConvertTokenizerTest, EmbeddedTokenizerEncodesAsTheDirectory) {
  const std::string gguf = Convert(Target(), GgmlType::kQ8_0, "tok");
  auto from_gguf = tokenizer::LoadGgufTokenizer(gguf);
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.status();
  auto from_dir = tokenizer::LoadTokenizer(Target());
  ASSERT_TRUE(from_dir.ok()) << from_dir.status();
  EXPECT_EQ(tokenizer::IdentityFingerprint((*from_gguf)->identity()),
            tokenizer::IdentityFingerprint((*from_dir)->identity()));
  std::vector<std::string> texts = TokenizerCorpus(2000, 5, /*with_special_text=*/true);
  std::ifstream prompts(RunfilePath("assets/bench_prompts.jsonl").value());
  for (std::string line; std::getline(prompts, line);) texts.push_back(line);
  ExpectIdenticalEncodes(**from_gguf, **from_dir, texts, "tokenizer.model");
}

// A tiny GPT-2 whose directory has GPT-2's own tokenizer.json: the GGUF's
// "gpt2" vocabulary encodes as the JSON, its logits equal the HF load, and
// llama.cpp loads it with the full vocabulary.
TEST(ConvertTokenizerTest, Gpt2TokenizerJsonEmbedsAsGgufBpe) {
  absl::StatusOr<std::string> json = Gpt2TokenizerJson();
  ASSERT_TRUE(json.ok()) << json.status();
  tools::TinyModelOptions options;
  options.architecture = model::Architecture::kGpt2;
  options.vocab_size = 50257;
  options.num_layers = 2;
  options.tie_word_embeddings = true;
  absl::StatusOr<tools::TinyModelPaths> paths = tools::WriteTinyModel(options, MakeTempDir("gpt2"));
  ASSERT_TRUE(paths.ok()) << paths.status();
  std::ofstream(paths->hf_dir + "/tokenizer.json") << *json;
  const std::string gguf = Convert(paths->hf_dir, GgmlType::kF32, "gpt2");
  auto from_gguf = tokenizer::LoadGgufTokenizer(gguf);
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.status();
  auto from_json = tokenizer::LoadTokenizer(paths->hf_dir + "/tokenizer.json");
  ASSERT_TRUE(from_json.ok()) << from_json.status();
  ExpectIdenticalEncodes(**from_gguf, **from_json,
                         TokenizerCorpus(2000, 9, /*with_special_text=*/true), "gpt2 tokenizer.json");
  EXPECT_TRUE(at::equal(Logits(gguf), Logits(paths->hf_dir)));
  LlamaCppOracleRequest request;
  request.gguf_path = gguf;
  request.prompt_ids = {50256, 464, 2068, 7586};
  request.n_greedy = 4;
  absl::StatusOr<LlamaCppOracleResult> oracle = RunLlamaCppOracle(request);
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  EXPECT_EQ(oracle->n_vocab, 50257);
}

// Gemma 2 / 3 checkpoints in Hugging Face form (norm offsets, layer_types,
// soft-caps, local RoPE) convert to a GGUF whose logits are bit-identical to
// the HF load and on which llama.cpp's logits match ours (GELU tolerance,
// see llama_cpp_numerics_test) with a binding window.
TEST(ConvertGemmaTest, ConvertedGemmaMatchesTheHfLoadAndLlamaCpp) {
  for (const model::LlamaVariant variant : {model::LlamaVariant::kGemma2, model::LlamaVariant::kGemma3}) {
    tools::TinyModelOptions options;
    options.variant = variant;
    options.num_layers = 7;
    options.head_dim = 32;
    options.sliding_window = 6;
    options.final_logit_softcapping = 10.0;
    if (variant == model::LlamaVariant::kGemma2) options.attn_logit_softcapping = 3.0;
    if (variant == model::LlamaVariant::kGemma3) options.rope_local_theta = 5000.0;
    const std::string dir = TinyHfDir(options);
    const std::string gguf = Convert(dir, GgmlType::kF32, "gemma");
    const at::Tensor hf = Logits(dir);
    const at::Tensor ours = Logits(gguf);
    ASSERT_TRUE(hf.defined() && ours.defined());
    EXPECT_TRUE(at::equal(ours, hf)) << model::FamilyName(model::Architecture::kLlama, variant);
    LlamaCppOracleRequest request;
    request.gguf_path = gguf;
    request.prompt_ids = kPrompt;
    request.n_greedy = 0;
    request.all_positions = true;
    request.kv_type = "F32";
    absl::StatusOr<LlamaCppOracleResult> oracle = RunLlamaCppOracle(request);
    ASSERT_TRUE(oracle.ok()) << oracle.status();
    ASSERT_EQ(oracle->logits.size(), kPrompt.size());
    double diff = 0, scale = 0;
    for (size_t p = 0; p < kPrompt.size(); ++p) {
      at::Tensor ref = at::tensor(oracle->logits[p]);
      scale = std::max(scale, ref.abs().max().item<double>());
      diff = std::max(diff, (ours[p] - ref).abs().max().item<double>());
    }
    std::cout << "[convert] " << model::FamilyName(model::Architecture::kLlama, variant)
              << " vs llama.cpp: max|diff|=" << diff << " scale=" << scale << std::endl;
    EXPECT_GT(scale, 1.0);
    EXPECT_LE(diff, 2e-3 * scale);
  }
}

TEST(ConvertLlamaCppTest, LlamaCppGreedyEqualsOursOnTheConvertedTarget) {
  const std::string gguf = Convert(Target(), GgmlType::kF32, "llama_cpp");
  LlamaCppOracleRequest request;
  request.gguf_path = gguf;
  request.prompt_ids = kPrompt;
  request.n_greedy = 64;
  absl::StatusOr<LlamaCppOracleResult> oracle = RunLlamaCppOracle(request);
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  auto m = LoadModel(gguf);
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<int64_t> greedy;
  absl::StatusOr<at::Tensor> logits = (*m)->ForwardOne(7, kPrompt, 0, /*all_logits=*/false);
  while (logits.ok() && greedy.size() < 64) {
    greedy.push_back(logits->reshape({-1}).argmax().item<int64_t>());
    logits = (*m)->ForwardOne(7, {greedy.back()}, 0, /*all_logits=*/false);
  }
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(greedy, oracle->greedy_ids);
}

TEST(ConvertErrorsTest, NameThePathOrTensor) {
  tools::ConvertOptions options;
  options.output_path = MakeTempDir("bad") + "/out.gguf";
  options.input_dir = "/nonexistent/model";
  absl::Status s = tools::ConvertHfToGguf(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("/nonexistent/model"));

  // A directory without a tokenizer.
  tools::TinyModelOptions tiny;
  absl::StatusOr<tools::TinyModelPaths> paths = tools::WriteTinyModel(tiny, MakeTempDir("notok"));
  ASSERT_TRUE(paths.ok());
  options.input_dir = paths->hf_dir;
  s = tools::ConvertHfToGguf(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("no tokenizer.model or tokenizer.json"));

  // A tokenizer larger than the model's vocabulary (tiny vocab is 512).
  std::ifstream src(Target() + "/tokenizer.model", std::ios::binary);
  std::ofstream(paths->hf_dir + "/tokenizer.model", std::ios::binary) << src.rdbuf();
  s = tools::ConvertHfToGguf(options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("vocab_size is 512"));

  // Truncated safetensors data: the error names the file.
  const std::string st = paths->hf_dir + "/model.safetensors";
  std::ifstream in(st, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(st, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  s = tools::ConvertHfToGguf(options);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), ::testing::HasSubstr(paths->hf_dir));
  std::cout << "[convert] truncated: " << s << "\n";
}

}  // namespace
}  // namespace tandem::testing
