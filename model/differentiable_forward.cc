#include "model/differentiable_forward.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/rope.h"

namespace tandem::model {
namespace {

// Every defined tensor of `w` converted to `dtype` (norm weights arrive in
// float32 whatever the model dtype).
void ConvertWeights(TransformerWeights& w, at::ScalarType dtype) {
  auto convert = [dtype](at::Tensor& t) {
    if (t.defined()) t = t.to(dtype).contiguous();
  };
  convert(w.token_embedding);
  convert(w.position_embedding);
  convert(w.final_norm_weight);
  convert(w.final_norm_bias);
  convert(w.lm_head);
  for (LayerWeights& l : w.layers) {
    for (at::Tensor* t :
         {&l.norm1_weight, &l.norm1_bias, &l.post_attention_norm_weight, &l.post_mlp_norm_weight,
          &l.qkv_weight, &l.qkv_bias, &l.q_norm_weight, &l.k_norm_weight, &l.out_weight,
          &l.out_bias, &l.norm2_weight, &l.norm2_bias, &l.up_weight, &l.up_bias, &l.down_weight,
          &l.down_bias}) {
      convert(*t);
    }
  }
}

// cat(freqs, freqs) [context, head_dim] of the config's RoPE (Hugging Face
// rotate-half layout).
at::Tensor RopeAngles(const ModelConfig& config, bool local, at::ScalarType dtype,
                      const at::Device& device) {
  const std::vector<double> inv_freq = RopeInverseFrequencies(config, local);
  at::Tensor freqs = at::outer(at::arange(config.max_position_embeddings, at::kDouble),
                               at::tensor(at::ArrayRef<double>(inv_freq), at::kDouble));
  return at::cat({freqs, freqs}, -1).to(device, dtype);
}

// x [..., d] -> x * cos + rotate_half(x) * sin, angles [T, 1, d] broadcast
// over [B, T, heads, d].
at::Tensor ApplyRope(const at::Tensor& x, const at::Tensor& angles) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * angles.cos() + rotated * angles.sin();
}

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return weight * (x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DifferentiableForward>> DifferentiableForward::Create(
    const Checkpoint& checkpoint, const DifferentiableForwardOptions& options) {
  if (options.dtype != at::kFloat && options.dtype != at::kDouble) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dtype must be float32 or float64, got ", c10::toString(options.dtype)));
  }
  ModelConfig config = checkpoint.config;
  if (absl::Status s = NormalizeConfig(config); !s.ok()) return s;
  Checkpoint normalized{config, checkpoint.tensors};
  absl::StatusOr<TransformerWeights> weights =
      ArrangeWeights(normalized, options.dtype, options.device);
  if (!weights.ok()) return weights.status();
  try {
    ConvertWeights(*weights, options.dtype);
    return std::unique_ptr<DifferentiableForward>(
        new DifferentiableForward(std::move(config), *std::move(weights), options));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("building the differentiable forward: ", e.what_without_backtrace()));
  }
}

DifferentiableForward::DifferentiableForward(ModelConfig config, TransformerWeights weights,
                                             const DifferentiableForwardOptions& options)
    : config_(std::move(config)), weights_(std::move(weights)), options_(options) {
  if (config_.architecture != Architecture::kLlama) return;
  rope_angles_ = RopeAngles(config_, false, options_.dtype, options_.device);
  if (config_.rope_local_theta > 0) {
    local_angles_ = RopeAngles(config_, true, options_.dtype, options_.device);
  }
}

absl::StatusOr<at::Tensor> DifferentiableForward::Embed(absl::Span<const int64_t> tokens) const {
  if (tokens.empty() || static_cast<int64_t>(tokens.size()) > config_.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat("tokens must number 1 to ",
                                                   config_.max_position_embeddings, ", got ",
                                                   tokens.size()));
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= config_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("token ", tokens[i], " at position ", i,
                                                     " is outside the vocabulary [0, ",
                                                     config_.vocab_size, ")"));
    }
  }
  at::Tensor ids = at::tensor(std::vector<int64_t>(tokens.begin(), tokens.end()), at::kLong);
  return weights_.token_embedding.index_select(0, ids.to(options_.device)).detach();
}

at::Tensor DifferentiableForward::Norm(const at::Tensor& x, const at::Tensor& weight,
                                       const at::Tensor& bias) const {
  if (config_.architecture == Architecture::kGpt2) {
    return at::layer_norm(x, {config_.hidden_size}, weight, bias, config_.norm_eps);
  }
  return RmsNorm(x, weight, config_.norm_eps);
}

at::Tensor DifferentiableForward::Attention(int64_t layer, const at::Tensor& x) const {
  const LayerWeights& lw = weights_.layers[layer];
  const int64_t batch = x.size(0), rows = x.size(1);
  const int64_t heads = config_.num_attention_heads, kv_heads = config_.num_key_value_heads;
  const int64_t d = config_.head_dim;
  at::Tensor qkv = at::linear(x, lw.qkv_weight, lw.qkv_bias);
  at::Tensor q = qkv.narrow(-1, 0, heads * d).reshape({batch, rows, heads, d});
  at::Tensor k = qkv.narrow(-1, heads * d, kv_heads * d).reshape({batch, rows, kv_heads, d});
  at::Tensor v =
      qkv.narrow(-1, (heads + kv_heads) * d, kv_heads * d).reshape({batch, rows, kv_heads, d});
  if (config_.architecture == Architecture::kLlama) {
    if (config_.qk_norm) {
      q = RmsNorm(q, lw.q_norm_weight, config_.norm_eps);
      k = RmsNorm(k, lw.k_norm_weight, config_.norm_eps);
    }
    const at::Tensor& table = UsesLocalRope(config_, layer) ? local_angles_ : rope_angles_;
    const at::Tensor angles = table.narrow(0, 0, rows).unsqueeze(1);  // [T, 1, d]
    q = ApplyRope(q, angles);
    k = ApplyRope(k, angles);
  }
  // GQA: each KV head serves heads / kv_heads consecutive query heads.
  k = k.repeat_interleave(heads / kv_heads, 2);
  v = v.repeat_interleave(heads / kv_heads, 2);
  at::Tensor scores = at::einsum("bthd,bshd->bhts", {q, k}) * AttentionScale(config_);
  if (const double cap = config_.attn_logit_softcapping; cap > 0) {
    scores = at::tanh(scores / cap) * cap;
  }
  // Query t sees keys s <= t, and with a window only s > t - window.
  at::Tensor masked = at::ones({rows, rows}, at::TensorOptions().dtype(at::kBool).device(x.device()))
                          .triu(1);
  if (const int64_t window = SlidingWindowOf(config_, layer); window > 0) {
    masked = masked | at::ones_like(masked).tril(-window);
  }
  scores = scores.masked_fill(masked, -std::numeric_limits<double>::infinity()).softmax(-1);
  at::Tensor out = at::einsum("bhts,bshd->bthd", {scores, v}).reshape({batch, rows, heads * d});
  return at::linear(out, lw.out_weight, lw.out_bias);
}

at::Tensor DifferentiableForward::Mlp(int64_t layer, const at::Tensor& x) const {
  const LayerWeights& lw = weights_.layers[layer];
  if (config_.architecture == Architecture::kGpt2) {
    return at::linear(at::gelu(at::linear(x, lw.up_weight, lw.up_bias), "tanh"), lw.down_weight,
                      lw.down_bias);
  }
  const int64_t inner = config_.intermediate_size;
  at::Tensor gate_up = at::linear(x, lw.up_weight);
  at::Tensor gate = gate_up.narrow(-1, 0, inner);
  gate = config_.hidden_activation == HiddenActivation::kGeluTanh ? at::gelu(gate, "tanh")
                                                                  : at::silu(gate);
  return at::linear(gate * gate_up.narrow(-1, inner, inner), lw.down_weight);
}

at::Tensor DifferentiableForward::HiddenUnchecked(const at::Tensor& embeddings) const {
  const int64_t rows = embeddings.size(1);
  at::Tensor x = embeddings;
  if (config_.scale_embeddings) x = x * std::sqrt(static_cast<double>(config_.hidden_size));
  if (config_.architecture == Architecture::kGpt2) {
    x = x + weights_.position_embedding.narrow(0, 0, rows);
  }
  for (int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    const LayerWeights& lw = weights_.layers[layer];
    at::Tensor a = Attention(layer, Norm(x, lw.norm1_weight, lw.norm1_bias));
    if (lw.post_attention_norm_weight.defined()) a = Norm(a, lw.post_attention_norm_weight, {});
    x = x + a;
    at::Tensor m = Mlp(layer, Norm(x, lw.norm2_weight, lw.norm2_bias));
    if (lw.post_mlp_norm_weight.defined()) m = Norm(m, lw.post_mlp_norm_weight, {});
    x = x + m;
  }
  return Norm(x, weights_.final_norm_weight, weights_.final_norm_bias);
}

absl::StatusOr<at::Tensor> DifferentiableForward::Hidden(const at::Tensor& embeddings) const {
  if (!embeddings.defined() || (embeddings.dim() != 2 && embeddings.dim() != 3) ||
      embeddings.size(-1) != config_.hidden_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("embeddings must be [B, T, ", config_.hidden_size, "] or [T, ",
                     config_.hidden_size, "]"));
  }
  if (embeddings.scalar_type() != options_.dtype) {
    return absl::InvalidArgumentError(absl::StrCat("embeddings must be ",
                                                   c10::toString(options_.dtype), ", got ",
                                                   c10::toString(embeddings.scalar_type())));
  }
  const int64_t rows = embeddings.size(-2);
  if (rows < 1 || rows > config_.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(
        "embeddings must have 1 to ", config_.max_position_embeddings, " rows, got ", rows));
  }
  try {
    if (embeddings.dim() == 2) return HiddenUnchecked(embeddings.unsqueeze(0)).squeeze(0);
    return HiddenUnchecked(embeddings);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("differentiable forward failed: ", e.what_without_backtrace()));
  }
}

at::Tensor DifferentiableForward::Logits(const at::Tensor& hidden) const {
  at::Tensor logits = at::matmul(hidden, weights_.lm_head.t());
  if (const double cap = config_.final_logit_softcapping; cap > 0) {
    logits = at::tanh(logits / cap) * cap;
  }
  return logits;
}

absl::StatusOr<at::Tensor> DifferentiableForward::Forward(const at::Tensor& embeddings) const {
  absl::StatusOr<at::Tensor> hidden = Hidden(embeddings);
  if (!hidden.ok()) return hidden.status();
  try {
    return Logits(*hidden);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("differentiable forward failed: ", e.what_without_backtrace()));
  }
}

}  // namespace tandem::model
