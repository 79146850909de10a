#ifndef TANDEM_MODEL_FORMATS_GGUF_EXPORT_H_
#define TANDEM_MODEL_FORMATS_GGUF_EXPORT_H_

// Hugging Face -> GGUF, as llama.cpp's convert_hf_to_gguf.py writes it: the
// architecture hyper-parameters as <arch>.* metadata and each tensor in
// GGUF layout (renamed, Q/K rows permuted, Conv1D transposed). Shared by
// tools/convert and tools/make_tiny_model.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/formats/gguf_names.h"
#include "model/formats/gguf_writer.h"
#include "model/model_config.h"

namespace tandem::model::formats {

// general.architecture (GgufArchitectureName: llama, qwen2, qwen3, gemma,
// gemma2, gemma3, gpt2), general.name and the <arch>.* hyper-parameters of
// `config`, including a separate head_dim, the sliding window, linear RoPE
// scaling and Gemma 2/3's soft-capping, sliding-layer pattern and local RoPE
// base, plus tandem.early_exit_layer when set. Unimplemented for what
// llama.cpp's GGUF cannot express (e.g. a query_pre_attn_scalar other than
// the one llama.cpp derives from the shape). Llama 3 RoPE scaling is not metadata in GGUF: the caller writes the
// rope_freqs.weight tensor (the tiny-model writer does; tools/convert refuses).
absl::Status SetGgufHyperParameters(const ModelConfig& config, GgufWriter& writer);

// `values` (row-major, torch shape `shape`, HF layout) in GGUF layout;
// `shape` is updated (transposed for kTranspose).
std::vector<float> ToGgufLayout(const ModelConfig& config, std::vector<float> values,
                                GgufTransform transform, std::vector<int64_t>& shape);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_GGUF_EXPORT_H_
