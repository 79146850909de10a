#ifndef TANDEM_MODEL_FORMATS_GGUF_CHECKPOINT_H_
#define TANDEM_MODEL_FORMATS_GGUF_CHECKPOINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "model/formats/gguf_file.h"
#include "model/formats/raw_checkpoint.h"

namespace tandem::model::formats {

// ModelConfig from the metadata of a GGUF file with general.architecture
// "llama", "qwen2", "qwen3" (qk_norm) or "gpt2" ({arch}.context_length, .embedding_length, .block_count,
// .feed_forward_length, .attention.head_count(_kv), .attention.key_length,
// .rope.freq_base, .attention.layer_norm_rms_epsilon / layer_norm_epsilon,
// .vocab_size or the tokenizer.ggml.tokens length, tokenizer.ggml.bos/eos
// _token_id, optional tandem.early_exit_layer, {arch}.attention.sliding_window
// -> sliding_window). attention_bias and tie_word_embeddings follow from the
// tensors present; a rope_freqs.weight tensor (llama3 scaling, arch llama
// only) -> rope_freq_factors. {arch}.rope.scaling.type other than none ->
// Unimplemented.
absl::StatusOr<ModelConfig> GgufModelConfig(const GgufFile& gguf);

// The whole checkpoint in Hugging Face names and layouts: tensors renamed,
// llama's Q/K rows un-permuted, GPT-2's Conv1D weights transposed, quantized
// types dequantized to float32 (F32/F16/BF16 keep their dtype). Every tensor
// the architecture needs is checked (present, shape) before any data is read.
absl::StatusOr<RawCheckpoint> ReadGgufCheckpoint(const std::string& path);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_GGUF_CHECKPOINT_H_
