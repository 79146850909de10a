#ifndef TANDEM_TOKENIZER_GGUF_TOKENIZER_H_
#define TANDEM_TOKENIZER_GGUF_TOKENIZER_H_

// The vocabulary embedded in a GGUF file (tokenizer.ggml.*), as llama.cpp
// interprets it:
//  - model "gpt2": byte-level BPE with tokenizer.ggml.merges; the
//    pre-tokenizer regexes are chosen by tokenizer.ggml.pre (gpt-2, mpt,
//    olmo, llama3/llama-bpe, qwen2, stablelm2, starcoder, refact, command-r,
//    smollm, falcon, default);
//  - model "llama": SentencePiece BPE (merge by tokenizer.ggml.scores) with
//    <0xXX> byte fallback and a "▁" prefix (tokenizer.ggml.add_space_prefix,
//    default true).
// Control/unknown tokens (token_type 3/2) are special added tokens;
// user-defined tokens (4) are non-special added tokens. BOS/EOS come from
// tokenizer.ggml.bos_token_id/eos_token_id; add_bos_token/add_eos_token
// (defaults: llama true/false, gpt2 false/false; llama-bpe adds BOS) decide
// what Encode adds with add_special_tokens.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/gguf_vocab.h"

namespace tandem::tokenizer {

// Errors name `source`: InvalidArgument for missing/inconsistent keys,
// Unimplemented for other tokenizer models or unknown pre-tokenizer types.
absl::StatusOr<std::unique_ptr<BpeTokenizer>> TokenizerFromGguf(
    const GgufMetadata& meta, const std::string& source);

// ReadGgufMetadata + TokenizerFromGguf.
absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadGgufTokenizer(const std::string& path);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_GGUF_TOKENIZER_H_
