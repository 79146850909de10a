#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/formats/hf_config.h"

namespace tandem::model::formats {
namespace {

using ::testing::HasSubstr;

constexpr char kLlama3[] = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256,
  "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
  "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
  "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "tie_word_embeddings": true, "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009], "tandem_early_exit_layer": 4})";

TEST(HfConfigTest, ReadsLlama3WithRopeScalingAndEosList) {
  absl::StatusOr<ModelConfig> c = ParseHfConfig(kLlama3, "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, Architecture::kLlama);
  EXPECT_EQ(c->num_key_value_heads, 8);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_TRUE(c->rope_scaling.enabled);
  EXPECT_EQ(c->rope_scaling.factor, 32.0);
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(c->bos_token_ids, (std::vector<int64_t>{128000}));
  EXPECT_EQ(c->early_exit_layer, 4);
  EXPECT_FALSE(c->attention_bias);
}

TEST(HfConfigTest, Qwen2ImpliesAttentionBiasAndDefaultsKvHeadsAndHeadDim) {
  absl::StatusOr<ModelConfig> c = ParseHfConfig(R"({
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 151936,
    "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
    "num_attention_heads": 14, "num_key_value_heads": 2, "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
    "use_sliding_window": false, "tie_word_embeddings": true, "eos_token_id": 151643,
    "rope_scaling": null})", "qwen/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->attention_bias);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_FALSE(c->rope_scaling.enabled);
  EXPECT_EQ(c->sliding_window, 0);  // use_sliding_window is false.
  EXPECT_EQ(c->variant, LlamaVariant::kQwen2);
}

TEST(HfConfigTest, Qwen3HasQkNormNoBiasAndItsOwnHeadDim) {
  absl::StatusOr<ModelConfig> c = ParseHfConfig(R"({
    "architectures": ["Qwen3ForCausalLM"], "vocab_size": 151936, "hidden_size": 1024,
    "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16,
    "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 40960,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000, "attention_bias": false,
    "sliding_window": null, "use_sliding_window": false, "tie_word_embeddings": true})",
                                                "qwen3/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->variant, LlamaVariant::kQwen3);
  EXPECT_TRUE(c->qk_norm);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_EQ(c->head_dim, 128);
}

TEST(HfConfigTest, MistralSlidingWindowIsKeptAndQwenPerLayerWindowRefused) {
  const std::string mistral = R"({
    "architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 32000,
    "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": SW})";
  absl::StatusOr<ModelConfig> windowed =
      ParseHfConfig(absl::StrReplaceAll(mistral, {{"SW", "4096"}}), "mistral/config.json");
  ASSERT_TRUE(windowed.ok()) << windowed.status();
  EXPECT_EQ(windowed->variant, LlamaVariant::kMistral);
  EXPECT_EQ(windowed->sliding_window, 4096);
  absl::StatusOr<ModelConfig> full =
      ParseHfConfig(absl::StrReplaceAll(mistral, {{"SW", "null"}}), "mistral/config.json");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->sliding_window, 0);
  absl::Status qwen = ParseHfConfig(R"({
    "model_type": "qwen2", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64,
    "use_sliding_window": true, "sliding_window": 16, "max_window_layers": 1})",
                                    "qwen/config.json").status();
  EXPECT_EQ(qwen.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(qwen.message()), HasSubstr("use_sliding_window"));
}

// google/gemma-2-2b's config.json (tokens trimmed).
TEST(HfConfigTest, Gemma2HasSoftCapsEvenSlidingLayersAndTiedOffsetNorms) {
  absl::StatusOr<ModelConfig> c = ParseHfConfig(R"({
    "architectures": ["Gemma2ForCausalLM"], "attention_bias": false,
    "attn_logit_softcapping": 50.0, "bos_token_id": 2, "cache_implementation": "hybrid",
    "eos_token_id": 1, "final_logit_softcapping": 30.0, "head_dim": 256,
    "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 2304, "intermediate_size": 9216, "max_position_embeddings": 8192,
    "model_type": "gemma2", "num_attention_heads": 8, "num_hidden_layers": 26,
    "num_key_value_heads": 4, "pad_token_id": 0, "query_pre_attn_scalar": 256,
    "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "sliding_window": 4096,
    "vocab_size": 256000})", "gemma2/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->variant, LlamaVariant::kGemma2);
  EXPECT_TRUE(c->tie_word_embeddings);  // Gemma's default.
  EXPECT_TRUE(c->scale_embeddings);
  EXPECT_TRUE(c->sandwich_norms);
  EXPECT_FALSE(c->qk_norm);
  EXPECT_EQ(c->hidden_activation, HiddenActivation::kGeluTanh);
  EXPECT_EQ(c->attn_logit_softcapping, 50.0);
  EXPECT_EQ(c->final_logit_softcapping, 30.0);
  EXPECT_EQ(c->query_pre_attn_scalar, 256.0);
  EXPECT_EQ(c->sliding_window, 4096);
  ASSERT_EQ(c->sliding_layers.size(), 26u);
  EXPECT_EQ(SlidingWindowOf(*c, 0), 4096);
  EXPECT_EQ(SlidingWindowOf(*c, 1), 0);
  EXPECT_EQ(SlidingWindowOf(*c, 24), 4096);
  EXPECT_EQ(SlidingWindowOf(*c, 25), 0);
  EXPECT_TRUE(HasOffsetNormWeights(c->variant));
}

// google/gemma-3-1b-it's config.json, then the 4B text config's rope_scaling
// and transformers 5's layer_types / rope_parameters spellings.
TEST(HfConfigTest, Gemma3HasQkNormsLocalRopeAndPatternSix) {
  const std::string base = R"({
    "architectures": ["Gemma3ForCausalLM"], "attention_bias": false,
    "attn_logit_softcapping": null, "bos_token_id": 2, "eos_token_id": [1, 106],
    "final_logit_softcapping": null, "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 1152, "intermediate_size": 6912, "max_position_embeddings": 32768,
    "model_type": "gemma3_text", "num_attention_heads": 4, "num_hidden_layers": 26,
    "num_key_value_heads": 1, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000, "rope_scaling": null, "rope_theta": 1000000,
    "sliding_window": 512, "sliding_window_pattern": 6, "vocab_size": 262144})";
  absl::StatusOr<ModelConfig> c = ParseHfConfig(base, "gemma3/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->variant, LlamaVariant::kGemma3);
  EXPECT_TRUE(c->qk_norm);
  EXPECT_TRUE(c->sandwich_norms);
  EXPECT_EQ(c->attn_logit_softcapping, 0.0);  // null: none.
  EXPECT_EQ(c->final_logit_softcapping, 0.0);
  EXPECT_EQ(c->rope_theta, 1e6);
  EXPECT_EQ(c->rope_local_theta, 1e4);
  EXPECT_EQ(c->rope_linear_factor, 1.0);
  for (int64_t layer : {0, 4, 6, 24, 25}) {
    EXPECT_EQ(SlidingWindowOf(*c, layer), 512) << layer;
    EXPECT_TRUE(UsesLocalRope(*c, layer)) << layer;
  }
  for (int64_t layer : {5, 11, 23}) {
    EXPECT_EQ(SlidingWindowOf(*c, layer), 0) << layer;
    EXPECT_FALSE(UsesLocalRope(*c, layer)) << layer;
  }
  EXPECT_EQ(c->eos_token_ids, (std::vector<int64_t>{1, 106}));

  c = ParseHfConfig(absl::StrReplaceAll(base, {{R"("rope_scaling": null)",
                                                R"("rope_scaling": {"factor": 8.0, "rope_type": "linear"})"}}),
                    "gemma3-4b/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_linear_factor, 8.0);

  std::string types = R"("layer_types": [)";
  for (int i = 0; i < 26; ++i) {
    types += std::string(i > 0 ? ", " : "") + (i == 1 ? R"("full_attention")" : R"("sliding_attention")");
  }
  types += "]";
  c = ParseHfConfig(absl::StrReplaceAll(
                        base, {{R"("sliding_window_pattern": 6)", types},
                               {R"("rope_scaling": null)",
                                R"("rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 500000}, "sliding_attention": {"rope_type": "default", "rope_theta": 20000}})"}}),
                    "gemma3-v5/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(SlidingWindowOf(*c, 1), 0);
  EXPECT_EQ(SlidingWindowOf(*c, 5), 512);
  EXPECT_EQ(c->rope_theta, 5e5);
  EXPECT_EQ(c->rope_local_theta, 2e4);
  EXPECT_EQ(c->rope_linear_factor, 2.0);

  absl::StatusOr<ModelConfig> bad = ParseHfConfig(
      absl::StrReplaceAll(base, {{R"("sliding_window_pattern": 6)", R"("layer_types": ["x"])"}}),
      "bad/config.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("layer_types"));
  bad = ParseHfConfig(absl::StrReplaceAll(base, {{"gelu_pytorch_tanh", "relu"}}), "act/config.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("hidden_activation"));
  bad = ParseHfConfig(absl::StrReplaceAll(base, {{"gemma3_text", "gemma3"}}), "mm/config.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("multimodal"));
}

TEST(HfConfigTest, ReadsGpt2) {
  absl::StatusOr<ModelConfig> c = ParseHfConfig(R"({
    "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 50257,
    "n_embd": 768, "n_layer": 12, "n_head": 12, "n_ctx": 1024, "n_positions": 1024,
    "n_inner": null, "layer_norm_epsilon": 1e-05, "bos_token_id": 50256,
    "eos_token_id": 50256})", "gpt2/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, Architecture::kGpt2);
  EXPECT_EQ(c->intermediate_size, 3072);
  EXPECT_EQ(c->max_position_embeddings, 1024);
  EXPECT_EQ(c->num_key_value_heads, 12);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_TRUE(c->tie_word_embeddings);
}

TEST(HfConfigTest, ErrorsNameTheSourceAndKey) {
  absl::Status missing = ParseHfConfig(R"({"model_type": "llama", "vocab_size": 10})", "x/config.json").status();
  EXPECT_THAT(std::string(missing.message()), HasSubstr("x/config.json"));
  EXPECT_THAT(std::string(missing.message()), HasSubstr("hidden_size"));
  absl::Status heads = ParseHfConfig(R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 64,
    "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 6,
    "max_position_embeddings": 8})", "c.json").status();
  EXPECT_THAT(std::string(heads.message()), HasSubstr("num_attention_heads (6) must divide hidden_size (64)"));
  EXPECT_EQ(ParseHfConfig(R"({"model_type": "bert"})", "c.json").status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ParseHfConfig("not json", "c.json").status().code(), absl::StatusCode::kInvalidArgument);
  std::string yarn = kLlama3;
  yarn.replace(yarn.find("\"llama3\""), 8, "\"yarn\"");
  EXPECT_EQ(ParseHfConfig(yarn, "c.json").status().code(), absl::StatusCode::kUnimplemented);
  std::string exit_too_deep = kLlama3;
  exit_too_deep.replace(exit_too_deep.find("\"tandem_early_exit_layer\": 4"), 28,
                        "\"tandem_early_exit_layer\": 16");
  EXPECT_THAT(std::string(ParseHfConfig(exit_too_deep, "c.json").status().message()),
              HasSubstr("early exit layer 16"));
}

TEST(HfConfigTest, RejectsSizesWhoseProductsOverflowAndHugeLayerCounts) {
  absl::StatusOr<ModelConfig> base = ParseHfConfig(kLlama3, "c.json");
  ASSERT_TRUE(base.ok()) << base.status();
  ModelConfig wide = *base;
  wide.hidden_size = kMaxModelDim;
  EXPECT_THAT(std::string(ValidateModelConfig(wide, "m.gguf").message()),
              HasSubstr("m.gguf: hidden_size must be < 2^31"));
  ModelConfig deep = *base;
  deep.num_hidden_layers = kMaxModelLayers + 1;
  EXPECT_THAT(std::string(ValidateModelConfig(deep, "m.gguf").message()),
              HasSubstr("num_hidden_layers must be <= 4096"));
  deep.num_hidden_layers = kMaxModelLayers;
  EXPECT_TRUE(ValidateModelConfig(deep, "m.gguf").ok());
}

}  // namespace
}  // namespace tandem::model::formats
