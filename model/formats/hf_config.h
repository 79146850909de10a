#ifndef TANDEM_MODEL_FORMATS_HF_CONFIG_H_
#define TANDEM_MODEL_FORMATS_HF_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/model_config.h"

namespace tandem::model::formats {

// Parses a Hugging Face config.json. Accepted: LlamaForCausalLM /
// MistralForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM (model_type llama,
// mistral, qwen2, qwen3; qwen2 implies attention_bias, qwen3 qk_norm) and
// GPT2LMHeadModel (model_type gpt2). Reads
// rope_scaling {"rope_type": "llama3"} (other RoPE scalings: Unimplemented),
// head_dim, tie_word_embeddings, bos/eos_token_id (int or list) and the
// optional tandem key "tandem_early_exit_layer". Missing or inconsistent
// values -> InvalidArgument naming `source` and the key, e.g.
// "config.json: num_attention_heads (6) must divide hidden_size (64)".
// Mistral's sliding_window (int or null) -> sliding_window; Qwen2/3 with
// use_sliding_window true -> Unimplemented (their window starts at
// max_window_layers).
absl::StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& source);

// ParseHfConfig on the contents of `path`.
absl::StatusOr<ModelConfig> ReadHfConfig(const std::string& path);

// Upper bounds ValidateModelConfig enforces: every size < kMaxModelDim (so
// products of two sizes fit in int64), at most kMaxModelLayers layers.
inline constexpr int64_t kMaxModelDim = int64_t{1} << 31;
inline constexpr int64_t kMaxModelLayers = 4096;

// Checks the cross-field invariants every loader must produce (positive sizes
// below kMaxModelDim, at most kMaxModelLayers layers, heads divide,
// early_exit_layer < num_hidden_layers, ...).
absl::Status ValidateModelConfig(const ModelConfig& config, const std::string& source);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_HF_CONFIG_H_
