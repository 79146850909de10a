#include "tests/model/random_checkpoint.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tandem::model::testing {

ModelConfig TinyLlamaConfig() {
  ModelConfig c;
  c.architecture = Architecture::kLlama;
  c.name = "tiny-llama";
  c.vocab_size = 97;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  c.norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.early_exit_layer = 2;
  return c;
}

ModelConfig TinyGpt2Config() {
  ModelConfig c;
  c.architecture = Architecture::kGpt2;
  c.name = "tiny-gpt2";
  c.vocab_size = 89;
  c.hidden_size = 32;
  c.intermediate_size = 128;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 4;
  c.max_position_embeddings = 64;
  c.norm_eps = 1e-5;
  c.tie_word_embeddings = true;
  return c;
}

ModelConfig TinyQwen2Config() {
  ModelConfig c = TinyLlamaConfig();
  c.variant = LlamaVariant::kQwen2;
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  return c;
}

ModelConfig TinyQwen3Config() {
  ModelConfig c = TinyLlamaConfig();
  c.variant = LlamaVariant::kQwen3;
  c.qk_norm = true;
  c.head_dim = 16;
  return c;
}

ModelConfig TinyMistralConfig() {
  ModelConfig c = TinyLlamaConfig();
  c.variant = LlamaVariant::kMistral;
  c.sliding_window = 3;
  return c;
}

ModelConfig TinyGemma2Config() {
  ModelConfig c = TinyLlamaConfig();
  SetVariantFeatures(LlamaVariant::kGemma2, &c);
  c.tie_word_embeddings = true;
  c.query_pre_attn_scalar = 12;
  c.attn_logit_softcapping = 1.5;
  c.final_logit_softcapping = 4.0;
  c.sliding_window = 3;
  c.sliding_layers = SlidingLayerPattern(2, c.num_hidden_layers);
  return c;
}

ModelConfig TinyGemma3Config() {
  ModelConfig c = TinyLlamaConfig();
  SetVariantFeatures(LlamaVariant::kGemma3, &c);
  c.head_dim = 16;
  c.rope_theta = 1e6;
  c.rope_local_theta = 100.0;
  c.rope_linear_factor = 4.0;
  c.sliding_window = 4;
  c.sliding_layers = SlidingLayerPattern(4, c.num_hidden_layers);
  return c;
}

std::vector<NamedConfig> TinyFamilyConfigs() {
  return {{"llama_gqa", TinyLlamaConfig()},
          {"qwen2_bias_tied", TinyQwen2Config()},
          {"qwen3_qk_norm", TinyQwen3Config()},
          {"mistral_window3", TinyMistralConfig()},
          {"gemma2_softcaps_window3", TinyGemma2Config()},
          {"gemma3_local_rope", TinyGemma3Config()},
          {"gpt2", TinyGpt2Config()}};
}

std::vector<int64_t> SpreadTokens(int64_t n, int64_t vocab) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back((i * 37 + 5) % vocab);
  return ids;
}

Checkpoint RandomCheckpoint(const ModelConfig& c, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  Checkpoint ckpt;
  ckpt.config = c;
  auto randn = [&](std::vector<int64_t> shape, double scale) {
    return at::normal(0.0, scale, shape, gen);
  };
  auto norm_weight = [&](int64_t n) { return 1.0 + randn({n}, 0.1); };
  const int64_t h = c.hidden_size;
  const int64_t d = c.head_dim > 0 ? c.head_dim : h / c.num_attention_heads;
  const int64_t kv = c.num_key_value_heads > 0 ? c.num_key_value_heads
                                               : c.num_attention_heads;
  const double s = 0.3;
  auto& t = ckpt.tensors;
  if (c.architecture == Architecture::kLlama) {
    t["model.embed_tokens.weight"] = randn({c.vocab_size, h}, 1.0);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string p = absl::StrCat("model.layers.", i, ".");
      t[p + "input_layernorm.weight"] = norm_weight(h);
      t[p + "post_attention_layernorm.weight"] = norm_weight(h);
      if (c.sandwich_norms) {
        t[p + "pre_feedforward_layernorm.weight"] = norm_weight(h);
        t[p + "post_feedforward_layernorm.weight"] = norm_weight(h);
      }
      t[p + "self_attn.q_proj.weight"] = randn({c.num_attention_heads * d, h}, s);
      t[p + "self_attn.k_proj.weight"] = randn({kv * d, h}, s);
      t[p + "self_attn.v_proj.weight"] = randn({kv * d, h}, s);
      if (c.attention_bias) {
        t[p + "self_attn.q_proj.bias"] = randn({c.num_attention_heads * d}, s);
        t[p + "self_attn.k_proj.bias"] = randn({kv * d}, s);
        t[p + "self_attn.v_proj.bias"] = randn({kv * d}, s);
      }
      if (c.qk_norm) {
        t[p + "self_attn.q_norm.weight"] = norm_weight(d);
        t[p + "self_attn.k_norm.weight"] = norm_weight(d);
      }
      t[p + "self_attn.o_proj.weight"] = randn({h, c.num_attention_heads * d}, s);
      t[p + "mlp.gate_proj.weight"] = randn({c.intermediate_size, h}, s);
      t[p + "mlp.up_proj.weight"] = randn({c.intermediate_size, h}, s);
      t[p + "mlp.down_proj.weight"] = randn({h, c.intermediate_size}, s);
    }
    t["model.norm.weight"] = norm_weight(h);
    if (!c.tie_word_embeddings) t["lm_head.weight"] = randn({c.vocab_size, h}, s);
  } else {
    t["transformer.wte.weight"] = randn({c.vocab_size, h}, 1.0);
    t["transformer.wpe.weight"] = randn({c.max_position_embeddings, h}, 0.5);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string p = absl::StrCat("transformer.h.", i, ".");
      t[p + "ln_1.weight"] = norm_weight(h);
      t[p + "ln_1.bias"] = randn({h}, 0.1);
      t[p + "ln_2.weight"] = norm_weight(h);
      t[p + "ln_2.bias"] = randn({h}, 0.1);
      t[p + "attn.c_attn.weight"] = randn({h, 3 * h}, s);
      t[p + "attn.c_attn.bias"] = randn({3 * h}, 0.1);
      t[p + "attn.c_proj.weight"] = randn({h, h}, s);
      t[p + "attn.c_proj.bias"] = randn({h}, 0.1);
      t[p + "mlp.c_fc.weight"] = randn({h, c.intermediate_size}, s);
      t[p + "mlp.c_fc.bias"] = randn({c.intermediate_size}, 0.1);
      t[p + "mlp.c_proj.weight"] = randn({c.intermediate_size, h}, s);
      t[p + "mlp.c_proj.bias"] = randn({h}, 0.1);
    }
    t["transformer.ln_f.weight"] = norm_weight(h);
    t["transformer.ln_f.bias"] = randn({h}, 0.1);
  }
  return ckpt;
}

Checkpoint FirstLayers(const Checkpoint& checkpoint, int64_t layers) {
  Checkpoint cut;
  cut.config = checkpoint.config;
  cut.config.num_hidden_layers = layers;
  cut.config.early_exit_layer = 0;
  if (!cut.config.sliding_layers.empty()) cut.config.sliding_layers.resize(layers);
  for (const auto& [name, tensor] : checkpoint.tensors) {
    // Names carry the layer index after "layers." (Llama) or "h." (GPT-2).
    bool keep = true;
    for (absl::string_view marker : {"model.layers.", "transformer.h."}) {
      if (!absl::StartsWith(name, marker)) continue;
      absl::string_view rest = absl::string_view(name).substr(marker.size());
      int64_t index = 0;
      keep = absl::SimpleAtoi(rest.substr(0, rest.find('.')), &index) &&
             index < layers;
    }
    if (keep) cut.tensors[name] = tensor;
  }
  return cut;
}

}  // namespace tandem::model::testing
