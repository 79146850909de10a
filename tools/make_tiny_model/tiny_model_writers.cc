// WriteTinyGguf, WriteTinyHfDir and WriteTinyModel (declared in tiny_model.h).
#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/formats/gguf_export.h"
#include "model/formats/gguf_names.h"
#include "model/formats/gguf_writer.h"
#include "model/formats/safetensors_writer.h"
#include "model/rope.h"
#include "nlohmann/json.hpp"
#include "tools/make_tiny_model/tiny_model.h"

namespace tandem::tools {
namespace {

using model::formats::GgmlType;

absl::Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create directory ", dir));
  }
  return absl::OkStatus();
}

// HF "architectures"[0] and model_type of a Llama-family config.
std::pair<std::string, std::string> HfLlamaNames(model::LlamaVariant v) {
  switch (v) {
    case model::LlamaVariant::kMistral:
      return {"MistralForCausalLM", "mistral"};
    case model::LlamaVariant::kQwen2:
      return {"Qwen2ForCausalLM", "qwen2"};
    case model::LlamaVariant::kQwen3:
      return {"Qwen3ForCausalLM", "qwen3"};
    case model::LlamaVariant::kGemma:
      return {"GemmaForCausalLM", "gemma"};
    case model::LlamaVariant::kGemma2:
      return {"Gemma2ForCausalLM", "gemma2"};
    case model::LlamaVariant::kGemma3:
      return {"Gemma3ForCausalLM", "gemma3_text"};
    case model::LlamaVariant::kLlama:
      break;
  }
  return {"LlamaForCausalLM", "llama"};
}

// Gemma's config.json keys: Gemma 2 relies on the default layer pattern,
// Gemma 3 spells it out as layer_types (as transformers >= 4.53 writes it).
void AddGemmaConfig(const model::ModelConfig& c, nlohmann::ordered_json* j) {
  using json = nlohmann::ordered_json;
  auto nullable = [](double v) { return v > 0 ? json(v) : json(nullptr); };
  j->erase("hidden_act");
  (*j)["hidden_activation"] = "gelu_pytorch_tanh";
  if (c.variant == model::LlamaVariant::kGemma) return;
  (*j)["query_pre_attn_scalar"] = c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar
                                                              : static_cast<double>(c.head_dim);
  (*j)["attn_logit_softcapping"] = nullable(c.attn_logit_softcapping);
  (*j)["final_logit_softcapping"] = nullable(c.final_logit_softcapping);
  // No window: one as long as the context, which never binds.
  (*j)["sliding_window"] = c.sliding_window > 0 ? c.sliding_window : c.max_position_embeddings;
  if (c.variant == model::LlamaVariant::kGemma3) {
    (*j)["rope_local_base_freq"] = c.rope_local_theta > 0 ? c.rope_local_theta : c.rope_theta;
    json types = json::array();
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      types.push_back(model::SlidingWindowOf(c, i) > 0 ? "sliding_attention" : "full_attention");
    }
    (*j)["layer_types"] = types;
  }
  if (c.rope_linear_factor != 1.0) {
    (*j)["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.rope_linear_factor}};
  }
}

nlohmann::ordered_json HfLlamaConfig(const model::ModelConfig& c) {
  const auto [arch, model_type] = HfLlamaNames(c.variant);
  nlohmann::ordered_json j = {
      {"architectures", {arch}}, {"model_type", model_type},
      {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size}, {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads}, {"head_dim", c.head_dim},
      {"max_position_embeddings", c.max_position_embeddings},
      {"rms_norm_eps", static_cast<double>(static_cast<float>(c.norm_eps))},
      {"rope_theta", static_cast<double>(static_cast<float>(c.rope_theta))},
      {"attention_bias", c.attention_bias}, {"hidden_act", "silu"}};
  if (c.rope_scaling.enabled) {
    const model::Llama3RopeScaling& s = c.rope_scaling;
    j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", s.factor},
                         {"low_freq_factor", s.low_freq_factor},
                         {"high_freq_factor", s.high_freq_factor},
                         {"original_max_position_embeddings", s.original_max_position_embeddings}};
  }
  if (c.variant == model::LlamaVariant::kMistral) {
    j["sliding_window"] = c.sliding_window > 0 ? nlohmann::ordered_json(c.sliding_window)
                                               : nlohmann::ordered_json(nullptr);
  }
  if (c.variant == model::LlamaVariant::kQwen2 || c.variant == model::LlamaVariant::kQwen3) {
    j["use_sliding_window"] = false;
  }
  if (model::HasOffsetNormWeights(c.variant)) AddGemmaConfig(c, &j);
  return j;
}

void SetVocab(const TinyVocab& v, model::formats::GgufWriter* w) {
  w->SetString("tokenizer.ggml.model", v.model);
  if (!v.pre.empty()) w->SetString("tokenizer.ggml.pre", v.pre);
  w->SetStringArray("tokenizer.ggml.tokens", v.tokens);
  if (!v.scores.empty()) w->SetFloat32Array("tokenizer.ggml.scores", v.scores);
  w->SetInt32Array("tokenizer.ggml.token_type", v.token_types);
  if (!v.merges.empty()) w->SetStringArray("tokenizer.ggml.merges", v.merges);
  w->SetUint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos_id));
  w->SetUint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos_id));
  if (v.unk_id >= 0) w->SetUint32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(v.unk_id));
}

// Both GGUF writers: `raw` (when set) gives the bytes of 2-D weights.
absl::Status WriteGguf(const TinyModel& m, uint32_t type, const GgufTensorBytes* raw,
                       const std::string& path) {
  model::formats::GgufWriter w;
  if (absl::Status s = model::formats::SetGgufHyperParameters(m.config, w); !s.ok()) return s;
  SetVocab(m.vocab, &w);
  for (const TinyWeight& weight : m.weights) {
    absl::StatusOr<model::formats::GgufTensorMapping> mapping =
        model::formats::MapHfNameToGguf(m.config, weight.name);
    if (!mapping.ok()) return mapping.status();
    std::vector<int64_t> shape = weight.shape;
    std::vector<float> values =
        model::formats::ToGgufLayout(m.config, weight.values, mapping->transform, shape);
    if (m.config.architecture == model::Architecture::kLlama &&
        model::HasOffsetNormWeights(m.config.variant) && absl::EndsWith(weight.name, "norm.weight")) {
      for (float& v : values) v += 1.0f;  // GGUF stores Gemma's norms as 1 + w.
    }
    if (raw != nullptr && shape.size() == 2) {
      std::vector<int64_t> ne(shape.rbegin(), shape.rend());
      std::vector<uint8_t> bytes = (*raw)(mapping->gguf_name, ne);
      w.AddRawTensor(mapping->gguf_name, std::move(ne), type, std::move(bytes));
      continue;
    }
    const GgmlType stored = shape.size() == 1 ? GgmlType::kF32 : static_cast<GgmlType>(type);
    absl::Status s = w.AddTensor(mapping->gguf_name, shape, stored, values);
    if (!s.ok()) return s;
  }
  if (m.config.rope_scaling.enabled) {
    const std::vector<float> factors = model::Llama3RopeFreqFactors(m.config);
    absl::Status s = w.AddTensor("rope_freqs.weight", {static_cast<int64_t>(factors.size())},
                                 GgmlType::kF32, factors);
    if (!s.ok()) return s;
  }
  return w.WriteFile(path);
}

}  // namespace

absl::Status WriteTinyGguf(const TinyModel& m, GgmlType type, const std::string& path) {
  return WriteGguf(m, static_cast<uint32_t>(type), nullptr, path);
}

absl::Status WriteTinyGgufRaw(const TinyModel& m, uint32_t type, const GgufTensorBytes& bytes,
                              const std::string& path) {
  return WriteGguf(m, type, &bytes, path);
}

absl::Status WriteTinyHfDir(const TinyModel& m, model::formats::DType dtype, int shards,
                            const std::string& dir) {
  absl::Status s = MakeDir(dir);
  if (!s.ok()) return s;
  const model::ModelConfig& c = m.config;
  nlohmann::ordered_json j;
  const auto eps = static_cast<double>(static_cast<float>(c.norm_eps));
  if (c.architecture == model::Architecture::kGpt2) {
    j = {{"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"},
         {"vocab_size", c.vocab_size}, {"n_embd", c.hidden_size},
         {"n_layer", c.num_hidden_layers}, {"n_head", c.num_attention_heads},
         {"n_positions", c.max_position_embeddings}, {"n_ctx", c.max_position_embeddings},
         {"n_inner", c.intermediate_size}, {"layer_norm_epsilon", eps},
         {"activation_function", "gelu_new"}};
  } else {
    j = HfLlamaConfig(c);
  }
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["bos_token_id"] = c.bos_token_ids.at(0);
  j["eos_token_id"] = c.eos_token_ids.at(0);
  j["torch_dtype"] = dtype == model::formats::DType::kF32 ? "float32"
                     : dtype == model::formats::DType::kF16 ? "float16" : "bfloat16";
  std::ofstream(dir + "/config.json") << j.dump(2) << "\n";
  std::vector<model::formats::SafetensorsEntry> entries;
  for (const TinyWeight& w : m.weights) {
    entries.push_back({w.name, dtype, w.shape, model::formats::EncodeFloats(w.values, dtype)});
  }
  if (shards > 1) return model::formats::WriteShardedSafetensors(dir, entries, shards);
  return model::formats::WriteSafetensors(dir + "/model.safetensors", entries, {{"format", "pt"}});
}

absl::StatusOr<TinyModelPaths> WriteTinyModel(const TinyModelOptions& options,
                                              const std::string& out_dir) {
  absl::StatusOr<TinyModel> m = MakeTinyModel(options);
  if (!m.ok()) return m.status();
  absl::Status s = MakeDir(out_dir);
  if (!s.ok()) return s;
  TinyModelPaths paths{out_dir + "/model.gguf", out_dir + "/hf"};
  s = WriteTinyGguf(*m, options.gguf_type, paths.gguf_path);
  if (!s.ok()) return s;
  s = WriteTinyHfDir(*m, options.hf_dtype, options.hf_shards, paths.hf_dir);
  if (!s.ok()) return s;
  return paths;
}

}  // namespace tandem::tools
