#ifndef TANDEM_MODEL_FORMATS_GGUF_NAMES_H_
#define TANDEM_MODEL_FORMATS_GGUF_NAMES_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/model_config.h"

namespace tandem::model::formats {

// How a Hugging Face tensor differs from its GGUF counterpart (viewed as a
// torch tensor, i.e. with ggml's ne reversed).
enum class GgufTransform {
  kNone,
  // llama.cpp's convert_hf_to_gguf.py permutes the rows of q_proj / k_proj
  // (weights and biases) per head from HF's rotate-half order to interleaved
  // RoPE pairs: rows.reshape(n_head, 2, head_dim/2).swapaxes(1, 2).
  kPermuteQ,  // n_head = num_attention_heads
  kPermuteK,  // n_head = num_key_value_heads
  // GPT-2's Conv1D weights are [in, out] in HF and [out, in] in GGUF.
  kTranspose,
};

struct GgufTensorMapping {
  std::string gguf_name;
  GgufTransform transform = GgufTransform::kNone;
};

// The GGUF tensor that holds Hugging Face tensor `hf_name` (names as in
// model/checkpoint.h) of a model with `config`, e.g.
// "model.layers.3.self_attn.q_proj.weight" -> {"blk.3.attn_q.weight",
// kPermuteQ} (GGUF arch "llama"; kNone for qwen2 / qwen3, whose NeoX RoPE
// keeps Hugging Face's row order). NotFound for names with no GGUF form.
absl::StatusOr<GgufTensorMapping> MapHfNameToGguf(const ModelConfig& config,
                                                  const std::string& hf_name);

// general.architecture for `config`: "llama" (Llama and Mistral, as
// convert_hf_to_gguf.py writes them), "qwen2", "qwen3" or "gpt2".
std::string GgufArchitectureName(const ModelConfig& config);

// Reorders the rows of a [n_heads * head_dim, row_bytes] byte matrix: HF
// rotate-half order -> GGUF interleaved order (ToGguf) or back (FromGguf).
// `rows` must be a multiple of 2 * n_heads.
void PermuteRowsToGguf(const uint8_t* src, uint8_t* dst, int64_t rows, size_t row_bytes,
                       int64_t n_heads);
void PermuteRowsFromGguf(const uint8_t* src, uint8_t* dst, int64_t rows, size_t row_bytes,
                         int64_t n_heads);

// dst[c][r] = src[r][c] for a rows x cols matrix of `elem_bytes` elements.
void Transpose2D(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t cols, size_t elem_bytes);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_GGUF_NAMES_H_
