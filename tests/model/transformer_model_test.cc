// The LibTorch transformers: a plain no-cache reference forward, cache
// consistency (incremental, truncate, batched, early exit, self-speculative
// reuse), errors, and KV accounting.

#include "model/transformer_model.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::model {
namespace {

using ::testing::HasSubstr;
using testing::FirstLayers;
using testing::RandomCheckpoint;

// A direct transcription of the Hugging Face modeling code (Llama, Qwen,
// Mistral, Gemma 2/3, GPT-2), no cache, in float64: the logits of every
// position of `ids`. Norm weights are multipliers (model/checkpoint.h).
at::Tensor ReferenceForward(const Checkpoint& ck, const std::vector<int64_t>& ids) {
  const ModelConfig& c = ck.config;
  auto W = [&](const std::string& n) { return ck.tensors.at(n).to(at::kDouble); };
  const int64_t T = ids.size(), h = c.hidden_size, nh = c.num_attention_heads;
  const int64_t kv = c.num_key_value_heads, d = c.head_dim > 0 ? c.head_dim : h / nh;
  at::Tensor idx = at::tensor(ids, at::kLong);
  const at::Tensor causal = at::ones({T, T}, at::kBool).triu(1);
  // Layer i's window: every layer (Mistral) or the listed ones (Gemma).
  auto window_of = [&](int64_t layer) {
    const bool slides = c.sliding_layers.empty() || c.sliding_layers[layer];
    return slides ? c.sliding_window : int64_t{0};
  };
  const double scale = 1.0 / std::sqrt(c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar
                                                                   : double(d));
  auto attend = [&](at::Tensor q, at::Tensor k, at::Tensor v, int64_t window) {  // [T, heads, d]
    k = k.repeat_interleave(nh / k.size(1), 1);
    v = v.repeat_interleave(nh / v.size(1), 1);
    at::Tensor s = at::einsum("thd,shd->hts", {q, k}) * scale;
    if (c.attn_logit_softcapping > 0) {
      s = at::tanh(s / c.attn_logit_softcapping) * c.attn_logit_softcapping;
    }
    at::Tensor mask = causal;  // Query t sees keys s with t - s < window.
    if (window > 0) mask = mask | at::ones({T, T}, at::kBool).tril(-window);
    s = s.masked_fill(mask, -INFINITY).softmax(-1);
    return at::einsum("hts,shd->thd", {s, v}).reshape({T, nh * d});
  };
  if (c.architecture == Architecture::kGpt2) {
    const std::string r = "transformer.";
    at::Tensor x = W(r + "wte.weight").index_select(0, idx) +
                   W(r + "wpe.weight").narrow(0, 0, T);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string p = absl::StrCat(r, "h.", i, ".");
      auto ln = [&](at::Tensor y, const std::string& n) {
        return at::layer_norm(y, {h}, W(p + n + ".weight"), W(p + n + ".bias"), c.norm_eps);
      };
      at::Tensor qkv = at::addmm(W(p + "attn.c_attn.bias"), ln(x, "ln_1"), W(p + "attn.c_attn.weight"));
      auto parts = qkv.split(h, 1);
      at::Tensor a = attend(parts[0].view({T, nh, d}), parts[1].view({T, nh, d}),
                            parts[2].view({T, nh, d}), 0);
      x = x + at::addmm(W(p + "attn.c_proj.bias"), a, W(p + "attn.c_proj.weight"));
      at::Tensor m = at::gelu(at::addmm(W(p + "mlp.c_fc.bias"), ln(x, "ln_2"), W(p + "mlp.c_fc.weight")), "tanh");
      x = x + at::addmm(W(p + "mlp.c_proj.bias"), m, W(p + "mlp.c_proj.weight"));
    }
    x = at::layer_norm(x, {h}, W(r + "ln_f.weight"), W(r + "ln_f.bias"), c.norm_eps);
    return at::matmul(x, W(r + "wte.weight").t()).to(at::kFloat);
  }
  auto rms = [&](at::Tensor y, at::Tensor w) {
    return w * (y * at::rsqrt(y.pow(2).mean(-1, true) + c.norm_eps));
  };
  // Global RoPE (scaled), and Gemma 3's local one for sliding layers.
  auto angles = [&](double theta, bool scaled) {
    at::Tensor inv = 1.0 / at::pow(theta, at::arange(0, d, 2, at::kDouble) / double(d));
    if (scaled && !c.rope_freq_factors.empty()) {
      inv = inv / at::tensor(c.rope_freq_factors, at::kFloat).to(at::kDouble);
    }
    if (scaled) inv = inv / c.rope_linear_factor;
    at::Tensor freqs = at::outer(at::arange(T, at::kDouble), inv);
    return at::cat({freqs, freqs}, -1).unsqueeze(1);
  };
  const at::Tensor global = angles(c.rope_theta, true);
  const at::Tensor local = angles(c.rope_local_theta, false);
  auto rope = [&](at::Tensor y, bool use_local) {
    const at::Tensor& a = use_local ? local : global;
    at::Tensor rot = at::cat({-y.narrow(-1, d / 2, d / 2), y.narrow(-1, 0, d / 2)}, -1);
    return y * a.cos() + rot * a.sin();
  };
  at::Tensor x = W("model.embed_tokens.weight").index_select(0, idx);
  if (c.scale_embeddings) x = x * std::sqrt(double(h));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    const int64_t window = window_of(i);
    const bool use_local = c.rope_local_theta > 0 && window > 0;
    at::Tensor y = rms(x, W(p + "input_layernorm.weight"));
    auto proj = [&](const std::string& n) {
      at::Tensor out = at::matmul(y, W(p + "self_attn." + n + "_proj.weight").t());
      if (c.attention_bias) out = out + W(p + "self_attn." + n + "_proj.bias");
      return out;
    };
    at::Tensor q = proj("q").view({T, nh, d}), k = proj("k").view({T, kv, d});
    if (c.qk_norm) {  // Qwen3: RMSNorm over head_dim before RoPE.
      q = rms(q, W(p + "self_attn.q_norm.weight"));
      k = rms(k, W(p + "self_attn.k_norm.weight"));
    }
    at::Tensor a = attend(rope(q, use_local), rope(k, use_local), proj("v").view({T, kv, d}),
                          window);
    a = at::matmul(a, W(p + "self_attn.o_proj.weight").t());
    if (c.sandwich_norms) {  // Gemma 2/3.
      x = x + rms(a, W(p + "post_attention_layernorm.weight"));
      y = rms(x, W(p + "pre_feedforward_layernorm.weight"));
    } else {
      x = x + a;
      y = rms(x, W(p + "post_attention_layernorm.weight"));
    }
    at::Tensor gate = at::matmul(y, W(p + "mlp.gate_proj.weight").t());
    gate = c.hidden_activation == HiddenActivation::kGeluTanh ? at::gelu(gate, "tanh")
                                                              : at::silu(gate);
    at::Tensor m = at::matmul(gate * at::matmul(y, W(p + "mlp.up_proj.weight").t()),
                              W(p + "mlp.down_proj.weight").t());
    x = x + (c.sandwich_norms ? rms(m, W(p + "post_feedforward_layernorm.weight")) : m);
  }
  x = rms(x, W("model.norm.weight"));
  const std::string head = c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  at::Tensor logits = at::matmul(x, W(head).t());
  if (c.final_logit_softcapping > 0) {
    logits = at::tanh(logits / c.final_logit_softcapping) * c.final_logit_softcapping;
  }
  return logits.to(at::kFloat);
}

struct Variant {
  std::string name;
  ModelConfig config;
  at::ScalarType dtype;
  double tolerance;
  bool torch_ops = false;  // The LibTorch-op path CUDA runs, here on CPU.
};

std::vector<Variant> Variants() {
  const ModelConfig qwen = testing::TinyQwen2Config();
  ModelConfig mha = testing::TinyLlamaConfig();
  mha.num_key_value_heads = mha.num_attention_heads;
  const ModelConfig qwen3 = testing::TinyQwen3Config();
  const ModelConfig mistral = testing::TinyMistralConfig();
  ModelConfig freqs = testing::TinyLlamaConfig();  // head_dim 8: 4 frequencies.
  freqs.rope_freq_factors = {1.0f, 1.5f, 4.0f, 8.0f};
  const ModelConfig gemma2 = testing::TinyGemma2Config();
  const ModelConfig gemma3 = testing::TinyGemma3Config();
  return {
      {"gemma2_softcap_window3_f32", gemma2, at::kFloat, 1e-5},
      {"gemma2_softcap_window3_f32_torch_ops", gemma2, at::kFloat, 1e-5, true},
      {"gemma3_local_rope_window4_f32", gemma3, at::kFloat, 1e-5},
      {"gemma3_local_rope_window4_f32_torch_ops", gemma3, at::kFloat, 1e-5, true},
      {"qwen3_qk_norm_head_dim_f32", qwen3, at::kFloat, 1e-5},
      {"qwen3_qk_norm_head_dim_f32_torch_ops", qwen3, at::kFloat, 1e-5, true},
      {"mistral_window3_f32", mistral, at::kFloat, 1e-5},
      {"mistral_window3_f32_torch_ops", mistral, at::kFloat, 1e-5, true},
      {"llama_rope_freq_factors_f32", freqs, at::kFloat, 1e-5},
      {"llama_rope_freq_factors_f32_torch_ops", freqs, at::kFloat, 1e-5, true},
      {"llama_gqa_f32", testing::TinyLlamaConfig(), at::kFloat, 1e-5},
      {"qwen2_bias_tied_f32", qwen, at::kFloat, 1e-5},
      {"llama_mha_f32", mha, at::kFloat, 1e-5},
      {"gpt2_f32", testing::TinyGpt2Config(), at::kFloat, 1e-5},
      {"llama_gqa_bf16", testing::TinyLlamaConfig(), at::kBFloat16, 8e-2},
      {"gpt2_bf16", testing::TinyGpt2Config(), at::kBFloat16, 8e-2},
      {"llama_gqa_f32_torch_ops", testing::TinyLlamaConfig(), at::kFloat, 1e-5, true},
      {"qwen2_bias_tied_f32_torch_ops", qwen, at::kFloat, 1e-5, true},
      {"llama_gqa_bf16_torch_ops", testing::TinyLlamaConfig(), at::kBFloat16, 8e-2, true},
      {"gpt2_bf16_torch_ops", testing::TinyGpt2Config(), at::kBFloat16, 8e-2, true},
  };
}

class TransformerModelTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    checkpoint_ = RandomCheckpoint(GetParam().config, 1234);
    TransformerOptions options;
    options.dtype = GetParam().dtype;
    options.torch_ops = GetParam().torch_ops;
    auto m = TransformerModel::Create(checkpoint_, options);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = *std::move(m);
  }

  at::Tensor Run(SequenceId id, const std::vector<int64_t>& tokens, int64_t exit = 0) {
    auto out = model_->ForwardOne(id, tokens, exit);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : at::Tensor();
  }

  void ExpectClose(const at::Tensor& a, const at::Tensor& b) {
    ASSERT_EQ(a.sizes(), b.sizes());
    // Tolerance relative to the logits' scale (bf16 keeps ~3 significant digits).
    const double scale = std::max(1.0, b.abs().max().item<double>());
    const double diff = (a - b).abs().max().item<double>();
    EXPECT_LE(diff, GetParam().tolerance * scale)
        << "max abs diff " << diff << " at logit scale " << scale;
  }

  std::vector<int64_t> Prompt(int n, int salt = 0) {
    std::vector<int64_t> p;
    for (int i = 0; i < n; ++i) p.push_back((i * 37 + salt * 11 + 5) % GetParam().config.vocab_size);
    return p;
  }

  Checkpoint checkpoint_;
  std::unique_ptr<TransformerModel> model_;
};

TEST_P(TransformerModelTest, MatchesPlainReferenceForward) {
  const std::vector<int64_t> ids = Prompt(13);
  ExpectClose(Run(1, ids), ReferenceForward(checkpoint_, ids));
}

TEST_P(TransformerModelTest, IncrementalDecodingEqualsOneFullForward) {
  const std::vector<int64_t> ids = Prompt(12);
  at::Tensor full = Run(1, ids);
  std::vector<at::Tensor> rows = {Run(2, {ids.begin(), ids.begin() + 5})};
  for (size_t i = 5; i < ids.size(); ++i) rows.push_back(Run(2, {ids[i]}));
  ExpectClose(at::cat(rows, 0), full);
  EXPECT_EQ(model_->Length(2), 12);
}

TEST_P(TransformerModelTest, TruncateThenReappendEqualsNeverAppended) {
  const std::vector<int64_t> prompt = Prompt(7);
  Run(1, prompt);
  Run(1, {3, 4, 5});  // rejected drafts
  ASSERT_TRUE(model_->Truncate(1, 7).ok());
  EXPECT_EQ(model_->Length(1), 7);
  at::Tensor after = Run(1, {9, 10});
  Run(2, prompt);
  ExpectClose(after, Run(2, {9, 10}));
}

TEST_P(TransformerModelTest, ForkCopiesAPrefixIndependently) {
  const std::vector<int64_t> prompt = Prompt(8);
  Run(1, prompt);
  ASSERT_TRUE(model_->Fork(1, 2, 5).ok());
  EXPECT_EQ(model_->Length(2), 5);
  at::Tensor forked = Run(2, {3, 4});
  Run(1, {6});  // the source goes on unaffected
  Run(3, {prompt.begin(), prompt.begin() + 5});
  ExpectClose(forked, Run(3, {3, 4}));
  EXPECT_EQ(model_->Fork(1, 4, 99).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model_->Fork(42, 4, 0).code(), absl::StatusCode::kNotFound);
}

TEST_P(TransformerModelTest, BatchedForwardEqualsPerSequence) {
  const std::vector<int64_t> a = Prompt(9, 1), b = Prompt(4, 2), c = Prompt(6, 3);
  Run(10, {1, 2, 3});  // c's sequence already has a prefix.
  Run(20, {1, 2, 3});
  std::vector<ForwardRequest> batch = {{1, a}, {2, b, 0, /*all_logits=*/false}, {10, c}};
  auto out = model_->Forward(batch);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectClose((*out)[0], Run(3, a));
  ExpectClose((*out)[1], Run(4, b).narrow(0, 3, 1));
  ExpectClose((*out)[2], Run(20, c));
}

TEST_P(TransformerModelTest, EarlyExitEqualsFirstLayersThroughTheHead) {
  const int64_t exit = GetParam().config.num_hidden_layers - 1;
  TransformerOptions options{GetParam().dtype};
  options.torch_ops = GetParam().torch_ops;
  auto cut = TransformerModel::Create(FirstLayers(checkpoint_, exit), options);
  ASSERT_TRUE(cut.ok()) << cut.status();
  const std::vector<int64_t> ids = Prompt(8);
  auto expected = (*cut)->ForwardOne(1, ids);
  ASSERT_TRUE(expected.ok());
  ExpectClose(Run(1, ids, exit), *expected);
  EXPECT_EQ(model_->Length(1), 0);
  EXPECT_EQ(model_->DraftLength(1), 8);
}

// Self-speculation: draft with the first layers one token at a time, then
// verify [pending, x1..xγ] with the full model, reusing the early layers'
// cache; the result equals a fresh full forward. Also when the verified tokens
// differ from the drafted ones (the stale draft positions are recomputed).
TEST_P(TransformerModelTest, FullPassAfterEarlyExitDraftsReusesCacheExactly) {
  const int64_t exit = 1;
  const std::vector<int64_t> prompt = Prompt(6);
  for (bool same_tokens : {true, false}) {
    const SequenceId id = same_tokens ? 1 : 2;
    Run(id, prompt);
    std::vector<int64_t> drafts = {7, 8, 9};
    Run(id, {4}, exit);  // pending token
    Run(id, {7}, exit);
    Run(id, {8}, exit);
    EXPECT_EQ(model_->DraftLength(id), 9);
    std::vector<int64_t> verify = {4, 7, 8, 9};
    if (!same_tokens) verify = {4, 7, 6, 9};
    at::Tensor got = Run(id, verify);
    EXPECT_EQ(model_->Length(id), 10);
    std::vector<int64_t> all = prompt;
    all.insert(all.end(), verify.begin(), verify.end());
    ExpectClose(got, Run(100 + id, all).narrow(0, 6, 4));
    // And the caches agree afterwards: one more token matches too.
    ExpectClose(Run(id, {11}), Run(100 + id, {11}));
  }
}

TEST_P(TransformerModelTest, RejectsBadInputWithoutModifyingSequences) {
  Run(1, Prompt(3));
  const int64_t vocab = GetParam().config.vocab_size;
  EXPECT_THAT(model_->ForwardOne(1, {vocab}).status().message(), HasSubstr("outside the vocabulary"));
  EXPECT_EQ(model_->ForwardOne(1, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model_->ForwardOne(1, {1}, 99).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<int64_t> too_long(GetParam().config.max_position_embeddings, 1);
  EXPECT_EQ(model_->ForwardOne(1, too_long).status().code(), absl::StatusCode::kOutOfRange);
  std::vector<int64_t> one = {1};
  EXPECT_FALSE(model_->Forward({ForwardRequest{1, one}, ForwardRequest{1, one}}).ok());
  EXPECT_EQ(model_->Length(1), 3);
  EXPECT_EQ(model_->Truncate(1, 4).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model_->Truncate(77, 0).code(), absl::StatusCode::kNotFound);
}

TEST_P(TransformerModelTest, AccountsKvCacheBytes) {
  const ModelConfig& c = GetParam().config;
  const int64_t kv = c.num_key_value_heads;
  const int64_t d = c.head_dim > 0 ? c.head_dim : c.hidden_size / c.num_attention_heads;
  // The CPU decoder caches float32 keys and values whatever the weight dtype;
  // the LibTorch path caches them in the model dtype.
  const int64_t elem = GetParam().torch_ops && GetParam().dtype != at::kFloat ? 2 : 4;
  EXPECT_EQ(model_->info().kv_bytes_per_token, 2 * c.num_hidden_layers * kv * d * elem);
  EXPECT_EQ(model_->kv_cache_bytes(), 0);
  Run(1, {1});
  Run(2, {1});
  EXPECT_EQ(model_->num_sequences(), 2);
  EXPECT_EQ(model_->kv_cache_bytes(),
            2 * model_->info().kv_bytes_per_token * c.max_position_embeddings);
  model_->Release(1);
  model_->Release(2);
  EXPECT_EQ(model_->kv_cache_bytes(), 0);
}

INSTANTIATE_TEST_SUITE_P(Variants, TransformerModelTest, ::testing::ValuesIn(Variants()),
                         [](const auto& info) { return info.param.name; });

TEST(TransformerModelCreateTest, RejectsMissingAndMisshapenTensors) {
  Checkpoint ck = RandomCheckpoint(testing::TinyLlamaConfig(), 1);
  ck.tensors.erase("model.layers.1.mlp.up_proj.weight");
  EXPECT_THAT(TransformerModel::Create(ck, {}).status().message(),
              HasSubstr("missing tensor model.layers.1.mlp.up_proj.weight"));
  ck = RandomCheckpoint(testing::TinyLlamaConfig(), 1);
  ck.tensors["model.norm.weight"] = at::ones({31});
  EXPECT_THAT(TransformerModel::Create(ck, {}).status().message(),
              HasSubstr("model.norm.weight has shape [31], expected [32]"));
  ck = RandomCheckpoint(testing::TinyLlamaConfig(), 1);
  ck.config.num_key_value_heads = 3;
  EXPECT_THAT(TransformerModel::Create(ck, {}).status().message(),
              HasSubstr("num_key_value_heads"));
}

TEST(TransformerModelRopeTest, Llama3ScalingChangesOnlyLowFrequencies) {
  ModelConfig c = testing::TinyLlamaConfig();
  Checkpoint plain = RandomCheckpoint(c, 5);
  Checkpoint scaled = plain;
  scaled.config.rope_scaling = {true, 8.0, 1.0, 4.0, 16};
  auto a = TransformerModel::Create(plain, {});
  auto b = TransformerModel::Create(scaled, {});
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<int64_t> ids = {1, 2, 3, 4, 5, 6, 7, 8};
  at::Tensor la = *(*a)->ForwardOne(1, ids), lb = *(*b)->ForwardOne(1, ids);
  // Position 0 has no rotation, so its logits agree; later positions differ.
  EXPECT_LT((la[0] - lb[0]).abs().max().item<double>(), 1e-5);
  EXPECT_GT((la[7] - lb[7]).abs().max().item<double>(), 1e-4);
}

}  // namespace
}  // namespace tandem::model
