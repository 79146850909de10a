#include "model/formats/tensor_layout.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tandem::model::formats {
namespace {

void AddLlama(const ModelConfig& c, std::vector<ExpectedTensor>* out) {
  const int64_t h = c.hidden_size;
  const int64_t q = c.num_attention_heads * c.head_dim;
  const int64_t kv = c.num_key_value_heads * c.head_dim;
  const int64_t ff = c.intermediate_size;
  out->push_back({"model.embed_tokens.weight", {c.vocab_size, h}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    out->push_back({p + "input_layernorm.weight", {h}});
    out->push_back({p + "self_attn.q_proj.weight", {q, h}});
    out->push_back({p + "self_attn.k_proj.weight", {kv, h}});
    out->push_back({p + "self_attn.v_proj.weight", {kv, h}});
    if (c.attention_bias) {
      out->push_back({p + "self_attn.q_proj.bias", {q}});
      out->push_back({p + "self_attn.k_proj.bias", {kv}});
      out->push_back({p + "self_attn.v_proj.bias", {kv}});
    }
    if (c.qk_norm) {
      out->push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
      out->push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
    }
    out->push_back({p + "self_attn.o_proj.weight", {h, q}});
    out->push_back({p + "post_attention_layernorm.weight", {h}});
    if (c.sandwich_norms) {
      out->push_back({p + "pre_feedforward_layernorm.weight", {h}});
      out->push_back({p + "post_feedforward_layernorm.weight", {h}});
    }
    out->push_back({p + "mlp.gate_proj.weight", {ff, h}});
    out->push_back({p + "mlp.up_proj.weight", {ff, h}});
    out->push_back({p + "mlp.down_proj.weight", {h, ff}});
  }
  out->push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings) out->push_back({"lm_head.weight", {c.vocab_size, h}});
}

void AddGpt2(const ModelConfig& c, std::vector<ExpectedTensor>* out) {
  const int64_t h = c.hidden_size;
  const int64_t ff = c.intermediate_size;
  out->push_back({"transformer.wte.weight", {c.vocab_size, h}});
  out->push_back({"transformer.wpe.weight", {c.max_position_embeddings, h}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = absl::StrCat("transformer.h.", i, ".");
    out->push_back({p + "ln_1.weight", {h}});
    out->push_back({p + "ln_1.bias", {h}});
    out->push_back({p + "attn.c_attn.weight", {h, 3 * h}});
    out->push_back({p + "attn.c_attn.bias", {3 * h}});
    out->push_back({p + "attn.c_proj.weight", {h, h}});
    out->push_back({p + "attn.c_proj.bias", {h}});
    out->push_back({p + "ln_2.weight", {h}});
    out->push_back({p + "ln_2.bias", {h}});
    out->push_back({p + "mlp.c_fc.weight", {h, ff}});
    out->push_back({p + "mlp.c_fc.bias", {ff}});
    out->push_back({p + "mlp.c_proj.weight", {ff, h}});
    out->push_back({p + "mlp.c_proj.bias", {h}});
  }
  out->push_back({"transformer.ln_f.weight", {h}});
  out->push_back({"transformer.ln_f.bias", {h}});
  if (!c.tie_word_embeddings) out->push_back({"lm_head.weight", {c.vocab_size, h}});
}

}  // namespace

std::vector<ExpectedTensor> ExpectedTensors(const ModelConfig& config) {
  std::vector<ExpectedTensor> out;
  if (config.architecture == Architecture::kGpt2) {
    AddGpt2(config, &out);
  } else {
    AddLlama(config, &out);
  }
  return out;
}

absl::Status ValidateAndSelectTensors(const ModelConfig& config, const std::string& source,
                                      std::map<std::string, RawTensor>* tensors) {
  if (config.architecture == Architecture::kGpt2) {
    std::map<std::string, RawTensor> renamed;
    for (auto& [name, tensor] : *tensors) {
      const bool bare = !absl::StartsWith(name, "transformer.") && name != "lm_head.weight";
      renamed[bare ? "transformer." + name : name] = std::move(tensor);
    }
    tensors->swap(renamed);
  }
  std::map<std::string, RawTensor> selected;
  for (const ExpectedTensor& expected : ExpectedTensors(config)) {
    auto it = tensors->find(expected.name);
    if (it == tensors->end()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": missing tensor \"", expected.name,
                                                     "\" (expected shape ",
                                                     ShapeToString(expected.shape), ")"));
    }
    if (it->second.shape != expected.shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": tensor \"", expected.name, "\": expected shape ",
          ShapeToString(expected.shape), ", found ", ShapeToString(it->second.shape)));
    }
    selected[expected.name] = std::move(it->second);
  }
  tensors->swap(selected);
  return absl::OkStatus();
}

}  // namespace tandem::model::formats
