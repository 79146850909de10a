#ifndef TANDEM_TOOLS_CONVERT_TOKENIZER_JSON_VOCAB_H_
#define TANDEM_TOOLS_CONVERT_TOKENIZER_JSON_VOCAB_H_

// A Hugging Face tokenizer.json with a byte-level BPE model (GPT-2 style:
// no normalizer, a ByteLevel pre-tokenizer with GPT-2's regex and no prefix
// space) as llama.cpp's tokenizer.ggml.* metadata: model "gpt2", pre
// "gpt-2", tokens by id (gaps filled with "[PAD<i>]" unused tokens), merges,
// token types (added special tokens control, other added tokens
// user-defined).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tokenizer/gguf_vocab.h"

namespace tandem::tools {

// InvalidArgument (naming `path`) for malformed JSON; Unimplemented for any
// other model, normalizer or pre-tokenizer, whose llama.cpp equivalent this
// converter cannot guarantee. bos_id / eos_id (from config.json, -1: none)
// become tokenizer.ggml.bos_token_id / eos_token_id.
absl::StatusOr<tokenizer::GgufMetadata> ReadTokenizerJsonAsGguf(const std::string& path,
                                                                int64_t bos_id, int64_t eos_id);

}  // namespace tandem::tools

#endif  // TANDEM_TOOLS_CONVERT_TOKENIZER_JSON_VOCAB_H_
