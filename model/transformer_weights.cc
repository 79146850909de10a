#include "model/transformer_weights.h"

#include <optional>
#include <string>
#include <utility>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tandem::model {
namespace {

std::string ShapeString(at::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Looks tensors up by name, checking shapes, converting dtype and device.
class TensorSource {
 public:
  TensorSource(const Checkpoint& c, at::ScalarType dtype, at::Device device)
      : checkpoint_(c), dtype_(dtype), device_(device) {}

  bool Has(const std::string& name) const {
    return checkpoint_.tensors.count(name) > 0;
  }

  // A norm weight: float32 whatever the model dtype.
  absl::StatusOr<at::Tensor> GetNorm(const std::string& name, std::vector<int64_t> shape) {
    return Get(name, std::move(shape), at::kFloat);
  }

  absl::StatusOr<at::Tensor> Get(const std::string& name, std::vector<int64_t> shape,
                                 std::optional<at::ScalarType> dtype = std::nullopt) {
    auto it = checkpoint_.tensors.find(name);
    if (it == checkpoint_.tensors.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint is missing tensor ", name, " (expected shape ",
                       ShapeString(shape), ")"));
    }
    if (it->second.sizes() != at::IntArrayRef(shape)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor ", name, " has shape ", ShapeString(it->second.sizes()),
          ", expected ", ShapeString(shape)));
    }
    count_ += it->second.numel();
    return it->second.to(device_, dtype.value_or(dtype_)).contiguous();
  }

  int64_t count() const { return count_; }

 private:
  const Checkpoint& checkpoint_;
  at::ScalarType dtype_;
  at::Device device_;
  int64_t count_ = 0;
};

#define TANDEM_ASSIGN(lhs, expr)                  \
  do {                                            \
    auto status_or_value = (expr);                \
    if (!status_or_value.ok()) return status_or_value.status(); \
    lhs = *std::move(status_or_value);            \
  } while (0)

absl::StatusOr<TransformerWeights> ArrangeLlama(const ModelConfig& c,
                                                TensorSource& src) {
  const int64_t h = c.hidden_size, d = c.head_dim;
  const int64_t q_rows = c.num_attention_heads * d;
  const int64_t kv_rows = c.num_key_value_heads * d;
  TransformerWeights w;
  TANDEM_ASSIGN(w.token_embedding,
                src.Get("model.embed_tokens.weight", {c.vocab_size, h}));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerWeights l;
    TANDEM_ASSIGN(l.norm1_weight, src.GetNorm(p + "input_layernorm.weight", {h}));
    if (c.sandwich_norms) {
      TANDEM_ASSIGN(l.post_attention_norm_weight,
                    src.GetNorm(p + "post_attention_layernorm.weight", {h}));
      TANDEM_ASSIGN(l.norm2_weight, src.GetNorm(p + "pre_feedforward_layernorm.weight", {h}));
      TANDEM_ASSIGN(l.post_mlp_norm_weight,
                    src.GetNorm(p + "post_feedforward_layernorm.weight", {h}));
    } else {
      TANDEM_ASSIGN(l.norm2_weight, src.GetNorm(p + "post_attention_layernorm.weight", {h}));
    }
    at::Tensor q, k, v, gate, up;
    TANDEM_ASSIGN(q, src.Get(p + "self_attn.q_proj.weight", {q_rows, h}));
    TANDEM_ASSIGN(k, src.Get(p + "self_attn.k_proj.weight", {kv_rows, h}));
    TANDEM_ASSIGN(v, src.Get(p + "self_attn.v_proj.weight", {kv_rows, h}));
    l.qkv_weight = at::cat({q, k, v}, 0);
    if (c.attention_bias) {
      at::Tensor qb, kb, vb;
      TANDEM_ASSIGN(qb, src.Get(p + "self_attn.q_proj.bias", {q_rows}));
      TANDEM_ASSIGN(kb, src.Get(p + "self_attn.k_proj.bias", {kv_rows}));
      TANDEM_ASSIGN(vb, src.Get(p + "self_attn.v_proj.bias", {kv_rows}));
      l.qkv_bias = at::cat({qb, kb, vb}, 0);
    }
    if (c.qk_norm) {
      TANDEM_ASSIGN(l.q_norm_weight, src.GetNorm(p + "self_attn.q_norm.weight", {d}));
      TANDEM_ASSIGN(l.k_norm_weight, src.GetNorm(p + "self_attn.k_norm.weight", {d}));
    }
    TANDEM_ASSIGN(l.out_weight, src.Get(p + "self_attn.o_proj.weight", {h, q_rows}));
    TANDEM_ASSIGN(gate, src.Get(p + "mlp.gate_proj.weight", {c.intermediate_size, h}));
    TANDEM_ASSIGN(up, src.Get(p + "mlp.up_proj.weight", {c.intermediate_size, h}));
    l.up_weight = at::cat({gate, up}, 0);
    TANDEM_ASSIGN(l.down_weight,
                  src.Get(p + "mlp.down_proj.weight", {h, c.intermediate_size}));
    w.layers.push_back(std::move(l));
  }
  TANDEM_ASSIGN(w.final_norm_weight, src.GetNorm("model.norm.weight", {h}));
  if (c.tie_word_embeddings || !src.Has("lm_head.weight")) {
    w.lm_head = w.token_embedding;
  } else {
    TANDEM_ASSIGN(w.lm_head, src.Get("lm_head.weight", {c.vocab_size, h}));
  }
  w.parameter_count = src.count();
  return w;
}

absl::StatusOr<TransformerWeights> ArrangeGpt2(const ModelConfig& c,
                                               TensorSource& src) {
  const int64_t h = c.hidden_size, inner = c.intermediate_size;
  // Some exports drop the "transformer." prefix.
  const std::string root = src.Has("transformer.wte.weight") ? "transformer." : "";
  TransformerWeights w;
  TANDEM_ASSIGN(w.token_embedding, src.Get(root + "wte.weight", {c.vocab_size, h}));
  TANDEM_ASSIGN(w.position_embedding,
                src.Get(root + "wpe.weight", {c.max_position_embeddings, h}));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = absl::StrCat(root, "h.", i, ".");
    LayerWeights l;
    TANDEM_ASSIGN(l.norm1_weight, src.Get(p + "ln_1.weight", {h}));
    TANDEM_ASSIGN(l.norm1_bias, src.Get(p + "ln_1.bias", {h}));
    TANDEM_ASSIGN(l.norm2_weight, src.Get(p + "ln_2.weight", {h}));
    TANDEM_ASSIGN(l.norm2_bias, src.Get(p + "ln_2.bias", {h}));
    // Conv1D weights are [in, out]; at::linear wants [out, in].
    at::Tensor t;
    TANDEM_ASSIGN(t, src.Get(p + "attn.c_attn.weight", {h, 3 * h}));
    l.qkv_weight = t.t().contiguous();
    TANDEM_ASSIGN(l.qkv_bias, src.Get(p + "attn.c_attn.bias", {3 * h}));
    TANDEM_ASSIGN(t, src.Get(p + "attn.c_proj.weight", {h, h}));
    l.out_weight = t.t().contiguous();
    TANDEM_ASSIGN(l.out_bias, src.Get(p + "attn.c_proj.bias", {h}));
    TANDEM_ASSIGN(t, src.Get(p + "mlp.c_fc.weight", {h, inner}));
    l.up_weight = t.t().contiguous();
    TANDEM_ASSIGN(l.up_bias, src.Get(p + "mlp.c_fc.bias", {inner}));
    TANDEM_ASSIGN(t, src.Get(p + "mlp.c_proj.weight", {inner, h}));
    l.down_weight = t.t().contiguous();
    TANDEM_ASSIGN(l.down_bias, src.Get(p + "mlp.c_proj.bias", {h}));
    w.layers.push_back(std::move(l));
  }
  TANDEM_ASSIGN(w.final_norm_weight, src.Get(root + "ln_f.weight", {h}));
  TANDEM_ASSIGN(w.final_norm_bias, src.Get(root + "ln_f.bias", {h}));
  if (!c.tie_word_embeddings && src.Has("lm_head.weight")) {
    TANDEM_ASSIGN(w.lm_head, src.Get("lm_head.weight", {c.vocab_size, h}));
  } else {
    w.lm_head = w.token_embedding;
  }
  w.parameter_count = src.count();
  return w;
}

#undef TANDEM_ASSIGN

absl::Status Positive(const char* field, int64_t value) {
  if (value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("config field ", field, " must be > 0, got ", value));
}

}  // namespace

absl::Status NormalizeConfig(ModelConfig& c) {
  for (auto [field, value] :
       {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size},
        {"hidden_size", c.hidden_size},
        {"intermediate_size", c.intermediate_size},
        {"num_hidden_layers", c.num_hidden_layers},
        {"num_attention_heads", c.num_attention_heads},
        {"max_position_embeddings", c.max_position_embeddings}}) {
    if (absl::Status s = Positive(field, value); !s.ok()) return s;
  }
  if (c.num_key_value_heads == 0) c.num_key_value_heads = c.num_attention_heads;
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_attention_heads (", c.num_attention_heads,
        ") must be a multiple of num_key_value_heads (", c.num_key_value_heads,
        ")"));
  }
  if (c.head_dim == 0) {
    if (c.hidden_size % c.num_attention_heads != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "hidden_size (", c.hidden_size,
          ") is not divisible by num_attention_heads (", c.num_attention_heads,
          ") and head_dim is not set"));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0 && c.architecture == Architecture::kLlama) {
    return absl::InvalidArgumentError(
        absl::StrCat("head_dim must be even for RoPE, got ", c.head_dim));
  }
  if (c.early_exit_layer < 0 || c.early_exit_layer >= c.num_hidden_layers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "early_exit_layer must be in [0, ", c.num_hidden_layers, "), got ",
        c.early_exit_layer));
  }
  if (!c.rope_freq_factors.empty() &&
      static_cast<int64_t>(c.rope_freq_factors.size()) != c.head_dim / 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rope_freq_factors has ", c.rope_freq_factors.size(), " values, expected head_dim / 2 = ",
        c.head_dim / 2));
  }
  if (c.sliding_window < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sliding_window must be >= 0, got ", c.sliding_window));
  }
  if (!c.sliding_layers.empty() &&
      static_cast<int64_t>(c.sliding_layers.size()) != c.num_hidden_layers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sliding_layers has ", c.sliding_layers.size(), " entries, expected num_hidden_layers = ",
        c.num_hidden_layers));
  }
  for (auto [field, value] : {std::pair<const char*, double>{"rope_local_theta", c.rope_local_theta},
                              {"query_pre_attn_scalar", c.query_pre_attn_scalar},
                              {"attn_logit_softcapping", c.attn_logit_softcapping},
                              {"final_logit_softcapping", c.final_logit_softcapping}}) {
    if (!(value >= 0) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " must be a finite value >= 0, got ", value));
    }
  }
  if (!(c.rope_linear_factor > 0) || !std::isfinite(c.rope_linear_factor)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rope_linear_factor must be > 0, got ", c.rope_linear_factor));
  }
  if (c.architecture == Architecture::kGpt2 &&
      (c.qk_norm || c.sliding_window > 0 || !c.rope_freq_factors.empty() ||
       c.scale_embeddings || c.sandwich_norms || c.attn_logit_softcapping > 0 ||
       c.final_logit_softcapping > 0 || c.query_pre_attn_scalar > 0)) {
    return absl::InvalidArgumentError(
        "qk_norm, sliding_window, rope_freq_factors, scaled embeddings, sandwich norms, "
        "soft-capping and query_pre_attn_scalar are Llama-family features");
  }
  return absl::OkStatus();
}

absl::StatusOr<TransformerWeights> ArrangeWeights(const Checkpoint& checkpoint,
                                                  at::ScalarType dtype,
                                                  const at::Device& device) {
  TensorSource src(checkpoint, dtype, device);
  try {
    return checkpoint.config.architecture == Architecture::kLlama
               ? ArrangeLlama(checkpoint.config, src)
               : ArrangeGpt2(checkpoint.config, src);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("arranging weights: ", e.what_without_backtrace()));
  }
}

}  // namespace tandem::model
