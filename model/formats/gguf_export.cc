#include "model/formats/gguf_export.h"

#include "model/formats/gguf_names.h"

#include "absl/strings/str_cat.h"

namespace tandem::model::formats {

absl::Status SetGgufHyperParameters(const ModelConfig& c, GgufWriter& w) {
  const bool gpt2 = c.architecture == Architecture::kGpt2;
  if (!gpt2 && c.architecture != Architecture::kLlama) {
    return absl::UnimplementedError("only Llama-family and GPT-2 checkpoints can be written to GGUF");
  }
  // llama, qwen2 or qwen3 (Mistral is "llama" in llama.cpp's GGUF).
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
