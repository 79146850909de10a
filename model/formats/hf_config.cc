#include "model/formats/hf_config.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/formats/json_util.h"
#include "nlohmann/json.hpp"

namespace tandem::model::formats {
namespace {

using nlohmann::json;

// Reads typed keys of one JSON object, remembering the first error.
class Fields {
 public:
  Fields(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

  bool Has(const std::string& key) const {
    const auto it = j_.find(key);
    return it != j_.end() && !it->is_null();
  }

  int64_t Int(const std::string& key, int64_t fallback, bool required) {
    if (!Has(key)) {
      if (required) Fail(absl::StrCat("missing required key \"", key, "\""));
      return fallback;
    }
    absl::StatusOr<int64_t> v = JsonNonNegativeInt(j_.at(key));
    if (!v.ok()) {
      Fail(absl::StrCat(key, ": ", v.status().message()));
      return fallback;
    }
    return *v;
  }

  double Double(const std::string& key, double fallback) {
    if (!Has(key)) return fallback;
    if (!j_.at(key).is_number()) {
      Fail(absl::StrCat(key, ": expected a number, found ", j_.at(key).dump()));
      return fallback;
    }
    return j_.at(key).get<double>();
  }

  bool Bool(const std::string& key, bool fallback) {
    if (!Has(key)) return fallback;
    if (!j_.at(key).is_boolean()) {
      Fail(absl::StrCat(key, ": expected true/false, found ", j_.at(key).dump()));
      return fallback;
    }
    return j_.at(key).get<bool>();
  }

  // An int or a list of ints (bos/eos_token_id).
  std::vector<int64_t> IntList(const std::string& key) {
    std::vector<int64_t> out;
    if (!Has(key)) return out;
    const json& v = j_.at(key);
    if (v.is_array()) {
      for (const json& item : v) {
        absl::StatusOr<int64_t> id = JsonNonNegativeInt(item);
        if (!id.ok()) Fail(absl::StrCat(key, ": ", id.status().message()));
        else out.push_back(*id);
      }
      return out;
    }
    absl::StatusOr<int64_t> id = JsonNonNegativeInt(v);
    if (!id.ok()) Fail(absl::StrCat(key, ": ", id.status().message()));
    else out.push_back(*id);
    return out;
  }

  void Fail(const std::string& message) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(absl::StrCat(source_, ": ", message));
  }
  const absl::Status& status() const { return status_; }

 private:
  const json& j_;
  std::string source_;
  absl::Status status_;
};

void ParseRopeScaling(const json& j, const std::string& source, Fields* f, ModelConfig* config,
                      absl::Status* unimplemented) {
  const auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return;
  if (!it->is_object()) return f->Fail("rope_scaling: expected an object or null");
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    if (it->contains(key) && (*it)[key].is_string()) type = (*it)[key].get<std::string>();
  }
  if (type == "default") return;
  Fields rope(*it, absl::StrCat(source, ": rope_scaling"));
  if (type == "linear") {
    config->rope_linear_factor = rope.Double("factor", 1.0);
    if (!(config->rope_linear_factor > 0)) rope.Fail("factor must be > 0");
    if (!rope.status().ok()) f->Fail(std::string(rope.status().message()));
    return;
  }
  if (type != "llama3") {
    *unimplemented = absl::UnimplementedError(
        absl::StrCat(source, ": rope_scaling type \"", type,
                     "\" is not supported (only \"llama3\" and \"linear\")"));
    return;
  }
  Llama3RopeScaling& s = config->rope_scaling;
  s.enabled = true;
  s.factor = rope.Double("factor", s.factor);
  s.low_freq_factor = rope.Double("low_freq_factor", s.low_freq_factor);
  s.high_freq_factor = rope.Double("high_freq_factor", s.high_freq_factor);
  s.original_max_position_embeddings = rope.Int("original_max_position_embeddings",
                                                s.original_max_position_embeddings, false);
  if (!rope.status().ok()) f->Fail(std::string(rope.status().message()));
}

void ParseLlama(const json& j, const std::string& model_type, Fields* f, ModelConfig* c) {
  c->architecture = Architecture::kLlama;
  c->vocab_size = f->Int("vocab_size", 0, true);
  c->hidden_size = f->Int("hidden_size", 0, true);
  c->intermediate_size = f->Int("intermediate_size", 0, true);
  c->num_hidden_layers = f->Int("num_hidden_layers", 0, true);
  c->num_attention_heads = f->Int("num_attention_heads", 0, true);
  c->num_key_value_heads = f->Int("num_key_value_heads", c->num_attention_heads, false);
  c->head_dim = f->Int("head_dim", c->num_attention_heads > 0
                                       ? c->hidden_size / c->num_attention_heads : 0, false);
  if (!f->Has("head_dim") && c->num_attention_heads > 0 &&
      c->hidden_size % c->num_attention_heads != 0) {
    f->Fail(absl::StrCat("num_attention_heads (", c->num_attention_heads,
                         ") must divide hidden_size (", c->hidden_size, ") when head_dim is unset"));
  }
  c->max_position_embeddings = f->Int("max_position_embeddings", 0, true);
  c->norm_eps = f->Double("rms_norm_eps", 1e-6);
  c->rope_theta = f->Double("rope_theta", 10000.0);
  c->attention_bias = f->Bool("attention_bias", model_type == "qwen2");
  if (model_type == "qwen2") c->attention_bias = true;
  c->tie_word_embeddings = f->Bool("tie_word_embeddings", false);
  if (model_type == "mistral") SetVariantFeatures(LlamaVariant::kMistral, c);
  if (model_type == "qwen2") SetVariantFeatures(LlamaVariant::kQwen2, c);
  if (model_type == "qwen3") SetVariantFeatures(LlamaVariant::kQwen3, c);
}

// A key whose absence means `fallback` and whose null means 0 (disabled),
// as Hugging Face's Gemma configs treat the soft-capping values.
double NullableDouble(const json& j, const std::string& key, double fallback, Fields* f) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_null()) return 0.0;
  return f->Double(key, fallback);
}

// Which layers slide: "layer_types" when present, else sliding_window_pattern
// (SlidingLayerPattern; the variant's default when absent).
void ParseSlidingLayers(const json& j, int64_t default_pattern, Fields* f, ModelConfig* c) {
  c->sliding_layers.assign(static_cast<size_t>(std::max<int64_t>(c->num_hidden_layers, 0)),
                           false);
  if (const auto it = j.find("layer_types"); it != j.end() && !it->is_null()) {
    if (!it->is_array() || it->size() != c->sliding_layers.size()) {
      return f->Fail(absl::StrCat("layer_types: expected ", c->sliding_layers.size(),
                                  " entries (num_hidden_layers)"));
    }
    for (size_t i = 0; i < it->size(); ++i) {
      const json& t = (*it)[i];
      if (t == "sliding_attention") c->sliding_layers[i] = true;
      else if (t != "full_attention") {
        return f->Fail(absl::StrCat("layer_types[", i, "]: expected \"sliding_attention\" or "
                                    "\"full_attention\", found ", t.dump()));
      }
    }
    return;
  }
  c->sliding_layers = SlidingLayerPattern(
      f->Int("sliding_window_pattern", default_pattern, false), c->num_hidden_layers);
}

// Transformers 5's rope_parameters: {"full_attention": {...}, "sliding_attention": {...}}.
void ParseRopeParameters(const json& j, Fields* f, ModelConfig* c) {
  const auto it = j.find("rope_parameters");
  if (it == j.end() || !it->is_object()) return;
  const json& full = it->contains("full_attention") ? (*it)["full_attention"] : *it;
  if (full.is_object()) {
    Fields rope(full, "rope_parameters");
    c->rope_theta = rope.Double("rope_theta", c->rope_theta);
    if (full.contains("rope_type") && full["rope_type"] == "linear") {
      c->rope_linear_factor = rope.Double("factor", 1.0);
    } else if (full.contains("rope_type") && full["rope_type"] != "default") {
      rope.Fail(absl::StrCat("full_attention.rope_type ", full["rope_type"].dump(),
                             " is not supported (default or linear)"));
    }
    if (!rope.status().ok()) f->Fail(std::string(rope.status().message()));
  }
  if (it->contains("sliding_attention") && (*it)["sliding_attention"].is_object()) {
    Fields rope((*it)["sliding_attention"], "rope_parameters.sliding_attention");
    c->rope_local_theta = rope.Double("rope_theta", c->rope_local_theta);
    if (!rope.status().ok()) f->Fail(std::string(rope.status().message()));
  }
}

// Gemma 1/2/3 (text): a Llama-shaped decoder with scaled embeddings, a GELU
// MLP, offset norm weights and (2, 3) sandwich norms, soft-capping, sliding
// layers, and (3) q/k norms with a local RoPE for the sliding layers.
absl::Status ParseGemma(const json& j, const std::string& model_type, const std::string& source,
                        Fields* f, ModelConfig* c) {
  ParseLlama(j, model_type, f, c);
  const LlamaVariant variant = model_type == "gemma"    ? LlamaVariant::kGemma
                               : model_type == "gemma2" ? LlamaVariant::kGemma2
                                                        : LlamaVariant::kGemma3;
  SetVariantFeatures(variant, c);
  c->tie_word_embeddings = f->Bool("tie_word_embeddings", true);
  const auto act = j.find("hidden_activation");
  if (act != j.end() && !act->is_null() && *act != "gelu_pytorch_tanh" && *act != "gelu_tanh") {
    return absl::UnimplementedError(absl::StrCat(
        source, ": hidden_activation ", act->dump(), " is not supported (gelu_pytorch_tanh)"));
  }
  if (variant == LlamaVariant::kGemma) return absl::OkStatus();
  c->query_pre_attn_scalar = f->Double("query_pre_attn_scalar", 256.0);
  c->sliding_window = f->Int("sliding_window", 4096, false);
  c->final_logit_softcapping =
      NullableDouble(j, "final_logit_softcapping", variant == LlamaVariant::kGemma2 ? 30.0 : 0.0, f);
  c->attn_logit_softcapping =
      NullableDouble(j, "attn_logit_softcapping", variant == LlamaVariant::kGemma2 ? 50.0 : 0.0, f);
  ParseSlidingLayers(j, DefaultSlidingPattern(variant), f, c);
  if (variant == LlamaVariant::kGemma3) {
    if (!j.contains("rope_theta")) c->rope_theta = 1000000.0;
    c->rope_local_theta = f->Double("rope_local_base_freq", 10000.0);
    ParseRopeParameters(j, f, c);
  }
  return absl::OkStatus();
}

// Mistral's sliding_window applies to every layer (null: none). Qwen2/3 use
// it only with use_sliding_window, and then only from layer max_window_layers
// on, which tandem does not implement.
absl::Status ParseSlidingWindow(const std::string& model_type, const std::string& source,
                                Fields* f, ModelConfig* c) {
  if (model_type == "mistral") {
    c->sliding_window = f->Int("sliding_window", 0, false);
  } else if ((model_type == "qwen2" || model_type == "qwen3") &&
             f->Bool("use_sliding_window", false)) {
    return absl::UnimplementedError(absl::StrCat(
        source, ": use_sliding_window (per-layer sliding window from max_window_layers on) is "
                "not supported"));
  }
  return absl::OkStatus();
}

void ParseGpt2(Fields* f, ModelConfig* c) {
  c->architecture = Architecture::kGpt2;
  c->vocab_size = f->Int("vocab_size", 0, true);
  c->hidden_size = f->Int("n_embd", 0, true);
  c->num_hidden_layers = f->Int("n_layer", 0, true);
  c->num_attention_heads = f->Int("n_head", 0, true);
  c->num_key_value_heads = c->num_attention_heads;
  if (c->num_attention_heads > 0 && c->hidden_size % c->num_attention_heads != 0) {
    f->Fail(absl::StrCat("n_head (", c->num_attention_heads, ") must divide n_embd (",
                         c->hidden_size, ")"));
  }
  c->head_dim = c->num_attention_heads > 0 ? c->hidden_size / c->num_attention_heads : 0;
  c->intermediate_size = f->Int("n_inner", 4 * c->hidden_size, false);
  c->max_position_embeddings = f->Int("n_positions", f->Int("n_ctx", 0, false),
                                      !f->Has("n_ctx"));
  c->norm_eps = f->Double("layer_norm_epsilon", 1e-5);
  c->tie_word_embeddings = f->Bool("tie_word_embeddings", true);
}

}  // namespace

absl::Status ValidateModelConfig(const ModelConfig& c, const std::string& source) {
  auto fail = [&](const std::string& m) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", m));
  };
  const std::pair<const char*, int64_t> positive[] = {
      {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size}, {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads}, {"head_dim", c.head_dim},
      {"max_position_embeddings", c.max_position_embeddings}};
  for (const auto& [name, value] : positive) {
    if (value <= 0) return fail(absl::StrCat(name, " must be > 0, found ", value));
    // Products of two sizes (heads x head_dim, rows x cols) must fit in int64.
    if (value >= kMaxModelDim) {
      return fail(absl::StrCat(name, " must be < 2^31, found ", value));
    }
  }
  // ExpectedTensors lists ~12 tensors per layer before any is looked up.
  if (c.num_hidden_layers > kMaxModelLayers) {
    return fail(absl::StrCat("num_hidden_layers must be <= ", kMaxModelLayers, ", found ",
                             c.num_hidden_layers));
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return fail(absl::StrCat("num_key_value_heads (", c.num_key_value_heads,
                             ") must divide num_attention_heads (", c.num_attention_heads, ")"));
  }
  if (c.head_dim % 2 != 0) return fail(absl::StrCat("head_dim (", c.head_dim, ") must be even"));
  if (c.early_exit_layer < 0 || c.early_exit_layer >= c.num_hidden_layers) {
    return fail(absl::StrCat("early exit layer ", c.early_exit_layer, " must be in [0, ",
                             c.num_hidden_layers, ")"));
  }
  if (!(c.norm_eps > 0)) return fail(absl::StrCat("norm epsilon must be > 0, found ", c.norm_eps));
  for (int64_t id : c.bos_token_ids) {
    if (id >= c.vocab_size) return fail(absl::StrCat("bos_token_id ", id, " >= vocab_size"));
  }
  for (int64_t id : c.eos_token_ids) {
    if (id >= c.vocab_size) return fail(absl::StrCat("eos_token_id ", id, " >= vocab_size"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& source) {
  absl::StatusOr<json> parsed = ParseJsonObject(json_text, source);
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  std::string model_type;
  if (j.contains("model_type") && j["model_type"].is_string()) {
    model_type = j["model_type"].get<std::string>();
  }
  std::string arch;
  if (j.contains("architectures") && j["architectures"].is_array() &&
      !j["architectures"].empty() && j["architectures"][0].is_string()) {
    arch = j["architectures"][0].get<std::string>();
  }
  if (model_type.empty()) {
    if (arch == "LlamaForCausalLM") model_type = "llama";
    if (arch == "MistralForCausalLM") model_type = "mistral";
    if (arch == "Qwen2ForCausalLM") model_type = "qwen2";
    if (arch == "Qwen3ForCausalLM") model_type = "qwen3";
    if (arch == "GemmaForCausalLM") model_type = "gemma";
    if (arch == "Gemma2ForCausalLM") model_type = "gemma2";
    if (arch == "Gemma3ForCausalLM") model_type = "gemma3_text";
    if (arch == "GPT2LMHeadModel") model_type = "gpt2";
  }
  ModelConfig config;
  Fields f(j, source);
  if (model_type == "llama" || model_type == "mistral" || model_type == "qwen2" ||
      model_type == "qwen3") {
    ParseLlama(j, model_type, &f, &config);
    if (absl::Status s = ParseSlidingWindow(model_type, source, &f, &config); !s.ok()) return s;
  } else if (model_type == "gemma" || model_type == "gemma2" || model_type == "gemma3_text") {
    if (absl::Status s = ParseGemma(j, model_type, source, &f, &config); !s.ok()) return s;
  } else if (model_type == "gpt2") {
    ParseGpt2(&f, &config);
  } else if (model_type == "gemma3") {
    return absl::UnimplementedError(absl::StrCat(
        source, ": model_type \"gemma3\" is the multimodal checkpoint (text_config, vision "
                "tower); convert its language model or use a \"gemma3_text\" checkpoint"));
  } else {
    return absl::UnimplementedError(absl::StrCat(
        source, ": unsupported model_type \"", model_type, "\" (architectures[0] = \"", arch,
        "\"); expected llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text or gpt2"));
  }
  if (j.contains("_name_or_path") && j["_name_or_path"].is_string()) {
    config.name = j["_name_or_path"].get<std::string>();
  }
  absl::Status unimplemented;
  ParseRopeScaling(j, source, &f, &config, &unimplemented);
  if (!unimplemented.ok()) return unimplemented;
  config.bos_token_ids = f.IntList("bos_token_id");
  config.eos_token_ids = f.IntList("eos_token_id");
  config.early_exit_layer = f.Int("tandem_early_exit_layer", 0, false);
  if (!f.status().ok()) return f.status();
  absl::Status valid = ValidateModelConfig(config, source);
  if (!valid.ok()) return valid;
  return config;
}

absl::StatusOr<ModelConfig> ReadHfConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  return ParseHfConfig(*text, path);
}

}  // namespace tandem::model::formats
