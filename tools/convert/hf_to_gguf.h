#ifndef TANDEM_TOOLS_CONVERT_HF_TO_GGUF_H_
#define TANDEM_TOOLS_CONVERT_HF_TO_GGUF_H_

// A Hugging Face checkpoint directory (config.json + safetensors, see
// model/formats/hf_checkpoint.h) -> one GGUF file llama.cpp loads, as
// convert_hf_to_gguf.py writes it: <arch>.* hyper-parameters, tensors
// renamed and re-laid out (model/formats/gguf_export.h), 2-D weights stored
// as the requested type (1-D tensors always F32; Q8_0 falls back to F16 for
// a tensor whose rows are not a multiple of 32), and the tokenizer embedded
// as tokenizer.ggml.* metadata:
//  - tokenizer.model (SentencePiece BPE, identity normalizer): model
//    "llama", tokens, scores, token types, BOS/EOS/UNK, add_space_prefix;
//  - else a GPT-2 style byte-level BPE tokenizer.json (see
//    tokenizer_json_vocab.h): model "gpt2", pre "gpt-2", tokens, merges,
//    token types, BOS/EOS from config.json.
// The vocabulary is padded with "[PAD<i>]" unused tokens up to the model's
// vocab_size, as convert_hf_to_gguf.py does.

#include <string>

#include "absl/status/status.h"
#include "model/formats/gguf_types.h"

namespace tandem::tools {

struct ConvertOptions {
  std::string input_dir;
  std::string output_path;
  model::formats::GgmlType type = model::formats::GgmlType::kF32;  // F32 F16 BF16 Q8_0
};

// Errors name the input path or the tensor: NotFound for a missing
// directory/config/tokenizer, InvalidArgument for malformed files or a
// tokenizer larger than vocab_size, Unimplemented for what GGUF (or this
// converter) cannot express (unigram tokenizers, RoPE scaling, other types).
absl::Status ConvertHfToGguf(const ConvertOptions& options);

}  // namespace tandem::tools

#endif  // TANDEM_TOOLS_CONVERT_HF_TO_GGUF_H_
