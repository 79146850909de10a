#include "model/cpu/decoder.h"

#include <cmath>
#include <cstring>
#include <utility>

#include "model/cpu/attention.h"
#include "model/cpu/pointwise.h"

namespace tandem::model::cpu {
namespace {

at::Tensor Float(const at::Tensor& t) {
  return t.defined() ? t.to(at::kFloat).contiguous() : at::Tensor();
}

const float* Ptr(const at::Tensor& t) {
  return t.defined() ? t.data_ptr<float>() : nullptr;
}

}  // namespace

Decoder::Decoder(const ModelConfig& config, const TransformerWeights& weights,
                 at::Tensor rope_cos, at::Tensor rope_sin, at::Tensor local_cos,
                 at::Tensor local_sin)
    : config_(config),
      lm_head_(Pack(weights.lm_head)),
      final_w_(Float(weights.final_norm_weight)),
      final_b_(Float(weights.final_norm_bias)),
      rope_cos_(Float(rope_cos)),
      rope_sin_(Float(rope_sin)),
      local_cos_(Float(local_cos)),
      local_sin_(Float(local_sin)) {
  for (const LayerWeights& w : weights.layers) {
    Layer l;
    l.qkv = Pack(w.qkv_weight);
    l.out = Pack(w.out_weight);
    l.up = Pack(w.up_weight);
    l.down = Pack(w.down_weight);
    l.norm1_w = Float(w.norm1_weight);
    l.norm1_b = Float(w.norm1_bias);
    l.norm2_w = Float(w.norm2_weight);
    l.norm2_b = Float(w.norm2_bias);
    l.qkv_b = Float(w.qkv_bias);
    l.out_b = Float(w.out_bias);
    l.up_b = Float(w.up_bias);
    l.down_b = Float(w.down_bias);
    l.q_norm_w = Float(w.q_norm_weight);
    l.k_norm_w = Float(w.k_norm_weight);
    l.post_attention_w = Float(w.post_attention_norm_weight);
    l.post_mlp_w = Float(w.post_mlp_norm_weight);
    layers_.push_back(std::move(l));
  }
  std::vector<PackedWeight*> all = {&lm_head_};
  for (Layer& l : layers_) all.insert(all.end(), {&l.qkv, &l.out, &l.up, &l.down});
  MoveToHugePages(all);
}

float* Decoder::Scratch(std::vector<float>& buffer, int64_t size) {
  if (static_cast<int64_t>(buffer.size()) < size) buffer.resize(size);
  return buffer.data();
}

void Decoder::Norm(const at::Tensor& w, const at::Tensor& b, const float* x, int64_t rows,
                   float* out) {
  const int64_t h = config_.hidden_size;
  const ConstRows in{x, rows, h};
  const Rows o{out, rows, h};
  if (config_.architecture == Architecture::kGpt2) {
    LayerNorm(in, h, Ptr(w), Ptr(b), static_cast<float>(config_.norm_eps), o);
  } else {
    RmsNorm(in, h, Ptr(w), static_cast<float>(config_.norm_eps), o);
  }
}

void Decoder::AddResidual(const at::Tensor& w, float* y, int64_t rows, float* x) {
  const int64_t h = config_.hidden_size;
  if (w.defined()) {
    RmsNorm({y, rows, h}, h, Ptr(w), static_cast<float>(config_.norm_eps), {y, rows, h});
  }
  AddRows({x, rows, h}, {y, rows, h}, h);
}

void Decoder::RunLayer(int64_t layer, float* x, absl::Span<const DecoderRow> rows) {
  const Layer& l = layers_[layer];
  const int64_t m = static_cast<int64_t>(rows.size());
  const int64_t h = config_.hidden_size, d = config_.head_dim;
  const int64_t heads = config_.num_attention_heads, kv = config_.num_key_value_heads;
  const int64_t n_qkv = l.qkv.out;
  float* normed = Scratch(normed_, m * h);
  float* qkv = Scratch(qkv_, m * n_qkv);
  float* attn = Scratch(attn_, m * heads * d);

  Norm(l.norm1_w, l.norm1_b, x, m, normed);
  Linear({normed, m, h, &l.qkv, Ptr(l.qkv_b), qkv, n_qkv, false});
  for (int64_t r = 0; r < m; ++r) {
    float* q = qkv + r * n_qkv;
    float* k = q + heads * d;
    const float* v = k + kv * d;
    const DecoderRow& row = rows[r];
    if (config_.qk_norm) {
      const float eps = static_cast<float>(config_.norm_eps);
      RmsNorm({q, heads, d}, d, Ptr(l.q_norm_w), eps, {q, heads, d});
      RmsNorm({k, kv, d}, d, Ptr(l.k_norm_w), eps, {k, kv, d});
    }
    if (config_.architecture == Architecture::kLlama) {
      const bool local = UsesLocalRope(config_, layer);
      const float* c = (local ? local_cos_ : rope_cos_).data_ptr<float>() + row.position * (d / 2);
      const float* s = (local ? local_sin_ : rope_sin_).data_ptr<float>() + row.position * (d / 2);
      Rope(q, heads + kv, d, c, s);  // q and k are adjacent.
    }
    const int64_t slot = row.slot >= 0 ? row.slot : row.position;
    for (int64_t g = 0; g < kv; ++g) {
      const int64_t at = g * row.kv_head_stride + slot * d;
      std::memcpy(row.keys + at, k + g * d, d * sizeof(float));
      std::memcpy(row.values + at, v + g * d, d * sizeof(float));
    }
  }
  std::vector<AttentionRow> spans(m);
  const int64_t window = SlidingWindowOf(config_, layer);
  int64_t extras = 0;
  for (const DecoderRow& row : rows) extras += static_cast<int64_t>(row.extra_slots.size());
  extra_.resize(extras);
  int64_t next_extra = 0;
  for (int64_t r = 0; r < m; ++r) {
    const DecoderRow& row = rows[r];
    if (row.slot >= 0) {
      // A tree row: its prefix span, then its ancestors as offsets from it.
      const int64_t first = row.first_visible;
      int64_t* extra = extra_.data() + next_extra;
      for (int64_t slot : row.extra_slots) extra_[next_extra++] = slot - first;
      spans[r] = {row.keys + first * d, row.values + first * d, row.kv_head_stride,
                  row.prefix_end - first,
                  absl::Span<const int64_t>(extra, row.extra_slots.size())};
      continue;
    }
    const int64_t end = row.position + 1;
    const int64_t first = window > 0 && end > window ? end - window : 0;
    spans[r] = {row.keys + first * d, row.values + first * d, row.kv_head_stride, end - first};
  }
  const AttentionShape shape{heads, kv, d, static_cast<float>(AttentionScale(config_)),
                             static_cast<float>(config_.attn_logit_softcapping)};
  Attention(shape, qkv, n_qkv, spans, attn, heads * d);
  if (config_.sandwich_norms) {
    float* out = Scratch(out_, m * h);
    Linear({attn, m, heads * d, &l.out, Ptr(l.out_b), out, h, false});
    AddResidual(l.post_attention_w, out, m, x);
  } else {
    Linear({attn, m, heads * d, &l.out, Ptr(l.out_b), x, h, true});
  }

  Norm(l.norm2_w, l.norm2_b, x, m, normed);
  const int64_t n_up = l.up.out;
  float* up = Scratch(mlp_, m * n_up);
  Linear({normed, m, h, &l.up, Ptr(l.up_b), up, n_up, false});
  if (config_.architecture == Architecture::kLlama) {
    const int64_t inner = n_up / 2;
    float* act = Scratch(act_, m * inner);
    if (config_.hidden_activation == HiddenActivation::kGeluTanh) {
      GeluTanhMul({up, m, n_up}, inner, {act, m, inner});
    } else {
      SiluMul({up, m, n_up}, inner, {act, m, inner});
    }
    if (config_.sandwich_norms) {
      float* out = Scratch(out_, m * h);
      Linear({act, m, inner, &l.down, Ptr(l.down_b), out, h, false});
      AddResidual(l.post_mlp_w, out, m, x);
    } else {
      Linear({act, m, inner, &l.down, Ptr(l.down_b), x, h, true});
    }
  } else {
    GeluTanh({up, m, n_up}, n_up);
    Linear({up, m, n_up, &l.down, Ptr(l.down_b), x, h, true});
  }
}

void Decoder::Logits(const float* x, int64_t rows, float* logits) {
  const int64_t h = config_.hidden_size;
  float* normed = Scratch(normed_, rows * h);
  Norm(final_w_, final_b_, x, rows, normed);
  Linear({normed, rows, h, &lm_head_, nullptr, logits, lm_head_.out, false});
}

}  // namespace tandem::model::cpu
