#ifndef TANDEM_TOKENIZER_HF_TOKENIZER_JSON_H_
#define TANDEM_TOKENIZER_HF_TOKENIZER_JSON_H_

// Hugging Face tokenizer.json files with a BPE model: byte-level (GPT-2,
// Llama 3, Qwen2/3) and SentencePiece-style with byte fallback (Llama 2,
// Mistral). See hf_components.h for the supported pipeline types.

#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "tokenizer/bpe_tokenizer.h"

namespace tandem::tokenizer {

// Parses tokenizer.json text. `source` names it in error messages.
// `config_text` is the optional tokenizer_config.json ("" if none): its
// bos_token/eos_token name the BOS/EOS tokens (otherwise BOS is the first
// token the post-processor prepends, and EOS is unknown).
// Token ids (model.vocab, added_tokens) must be dense: each below the number
// of vocabulary entries plus added tokens (and below kMaxHfTokenId).
// Errors: InvalidArgument for malformed JSON or structure (the message names
// the file and the JSON path), Unimplemented for unsupported model/pipeline
// types.
absl::StatusOr<std::unique_ptr<BpeTokenizer>> ParseHfTokenizerJson(
    absl::string_view json_text, absl::string_view source,
    absl::string_view config_text = "");

// Reads `path` (a tokenizer.json) and a tokenizer_config.json beside it if
// there is one. NotFound if `path` cannot be read.
absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadHfTokenizerJson(
    const std::string& path);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_HF_TOKENIZER_JSON_H_
