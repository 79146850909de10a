#ifndef TANDEM_TOKENIZER_LOAD_TOKENIZER_H_
#define TANDEM_TOKENIZER_LOAD_TOKENIZER_H_

// Opens whatever tokenizer a model path holds:
//  - a .gguf file: its embedded vocabulary (gguf_tokenizer.h);
//  - a tokenizer.json file, or a directory with tokenizer.json
//    (hf_tokenizer_json.h; preferred over tokenizer.model);
//  - a SentencePiece .model file, or a directory with tokenizer.model, read
//    without libsentencepiece: unigram models as UnigramTokenizer
//    (unigram_tokenizer.h), BPE models through the GGUF "llama" vocabulary
//    (sentencepiece_model_file.h).
// NotFound if the path holds none of these; other errors from the loaders.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tokenizer/tokenizer.h"

namespace tandem::tokenizer {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_LOAD_TOKENIZER_H_
