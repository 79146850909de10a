#include "model/formats/gguf_export.h"

#include "model/formats/gguf_names.h"

#include "absl/strings/str_cat.h"

namespace tandem::model::formats {
namespace {

// llama.cpp's integer form of a sliding-layer pattern: n with layer i sliding
// iff i % n < n - 1 (0: every layer), or -1 if `layers` is not periodic so.
int64_t SlidingPattern(const std::vector<bool>& layers) {
  const int64_t count = static_cast<int64_t>(layers.size());
  for (int64_t n = 0; n <= count + 1; ++n) {
    if (SlidingLayerPattern(n, count) == layers) return n;
  }
  return -1;
}

// Gemma 2/3 keys (see ReadGemmaParameters in gguf_checkpoint.cc for how
// llama.cpp reads them back).
absl::Status SetGemmaParameters(const ModelConfig& c, const std::string& a, GgufWriter& w) {
  const bool gemma2 = c.variant == LlamaVariant::kGemma2;
  const bool big = c.num_hidden_layers == (gemma2 ? 46 : 62);
  const double implied = big ? static_cast<double>(c.hidden_size / c.num_attention_heads)
                             : static_cast<double>(c.head_dim);
  if (c.query_pre_attn_scalar > 0 && c.query_pre_attn_scalar != implied) {
    return absl::UnimplementedError(absl::StrCat(
        "query_pre_attn_scalar ", c.query_pre_attn_scalar, " cannot be stored in GGUF: llama.cpp "
        "derives ", implied, " from the shape"));
  }
  if (gemma2) w.SetFloat32(a + ".attn_logit_softcapping", static_cast<float>(c.attn_logit_softcapping));
  else if (c.attn_logit_softcapping > 0) {
    return absl::UnimplementedError("llama.cpp's gemma3 has no attention soft-capping");
  }
  if (gemma2 || c.final_logit_softcapping > 0) {
    w.SetFloat32(a + ".final_logit_softcapping", static_cast<float>(c.final_logit_softcapping));
  }
  if (c.sliding_window <= 0) {
    // llama.cpp's gemma2 always slides (default 4096): a window as long as
    // the context never binds.
    if (gemma2) {
      w.SetUint32(a + ".attention.sliding_window",
                  static_cast<uint32_t>(c.max_position_embeddings));
    }
    return absl::OkStatus();
  }
  const int64_t pattern =
      c.sliding_layers.empty() ? 0 : SlidingPattern(c.sliding_layers);
  if (pattern < 0) {
    return absl::UnimplementedError("a sliding-layer pattern that is not periodic");
  }
  w.SetUint32(a + ".attention.sliding_window_pattern", static_cast<uint32_t>(pattern));
  const double local = c.rope_local_theta > 0 ? c.rope_local_theta : c.rope_theta;
  if (!gemma2 && c.rope_local_theta <= 0 && c.rope_linear_factor != 1.0) {
    return absl::UnimplementedError(
        "gemma3 sliding layers scaled like the global ones (llama.cpp leaves them unscaled)");
  }
  if (!gemma2 || c.rope_local_theta > 0) {
    w.SetFloat32(a + ".rope.freq_base_swa", static_cast<float>(local));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SetGgufHyperParameters(const ModelConfig& c, GgufWriter& w) {
  const bool gpt2 = c.architecture == Architecture::kGpt2;
  if (!gpt2 && c.architecture != Architecture::kLlama) {
    return absl::UnimplementedError("only Llama-family and GPT-2 checkpoints can be written to GGUF");
  }
  // llama, qwen2, qwen3, gemma* (Mistral is "llama" in llama.cpp's GGUF).
  const std::string a = GgufArchitectureName(c);
  w.SetString("general.architecture", a);
  w.SetString("general.name", c.name);
  w.SetUint32(a + ".context_length", static_cast<uint32_t>(c.max_position_embeddings));
  w.SetUint32(a + ".embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.SetUint32(a + ".block_count", static_cast<uint32_t>(c.num_hidden_layers));
  w.SetUint32(a + ".feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.SetUint32(a + ".attention.head_count", static_cast<uint32_t>(c.num_attention_heads));
  if (c.early_exit_layer > 0) {
    w.SetUint32("tandem.early_exit_layer", static_cast<uint32_t>(c.early_exit_layer));
  }
  if (gpt2) {
    w.SetFloat32(a + ".attention.layer_norm_epsilon", static_cast<float>(c.norm_eps));
    return absl::OkStatus();
  }
  w.SetUint32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.num_key_value_heads));
  w.SetUint32(a + ".rope.dimension_count", static_cast<uint32_t>(c.head_dim));
  w.SetFloat32(a + ".rope.freq_base", static_cast<float>(c.rope_theta));
  w.SetFloat32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.norm_eps));
  w.SetUint32(a + ".vocab_size", static_cast<uint32_t>(c.vocab_size));
  if (c.head_dim * c.num_attention_heads != c.hidden_size) {
    w.SetUint32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
    w.SetUint32(a + ".attention.value_length", static_cast<uint32_t>(c.head_dim));
  }
  if (c.sliding_window > 0) {
    w.SetUint32(a + ".attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
  }
  if (c.rope_linear_factor != 1.0) {
    w.SetString(a + ".rope.scaling.type", "linear");
    w.SetFloat32(a + ".rope.scaling.factor", static_cast<float>(c.rope_linear_factor));
  }
  if (c.variant == LlamaVariant::kGemma2 || c.variant == LlamaVariant::kGemma3) {
    return SetGemmaParameters(c, a, w);
  }
  if (!c.sliding_layers.empty() || c.rope_local_theta > 0 || c.attn_logit_softcapping > 0 ||
      c.final_logit_softcapping > 0 || c.query_pre_attn_scalar > 0) {
    return absl::UnimplementedError(absl::StrCat(
        "GGUF arch \"", a, "\" cannot store per-layer windows, a local RoPE, soft-capping or "
        "query_pre_attn_scalar"));
  }
  return absl::OkStatus();
}

std::vector<float> ToGgufLayout(const ModelConfig& c, std::vector<float> values,
                                GgufTransform transform, std::vector<int64_t>& shape) {
  if (transform == GgufTransform::kNone) return values;
  std::vector<float> out(values.size());
  const auto* src = reinterpret_cast<const uint8_t*>(values.data());
  auto* dst = reinterpret_cast<uint8_t*>(out.data());
  if (transform == GgufTransform::kTranspose) {
    Transpose2D(src, dst, shape[0], shape[1], sizeof(float));
    shape = {shape[1], shape[0]};
  } else {
    const int64_t heads = transform == GgufTransform::kPermuteQ ? c.num_attention_heads
                                                                : c.num_key_value_heads;
    const size_t row_bytes = values.size() / static_cast<size_t>(shape[0]) * sizeof(float);
    PermuteRowsToGguf(src, dst, shape[0], row_bytes, heads);
  }
  return out;
}

}  // namespace tandem::model::formats
