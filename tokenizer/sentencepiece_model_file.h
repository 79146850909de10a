#ifndef TANDEM_TOKENIZER_SENTENCEPIECE_MODEL_FILE_H_
#define TANDEM_TOKENIZER_SENTENCEPIECE_MODEL_FILE_H_

// Reads a SentencePiece .model file (a serialized sentencepiece.ModelProto)
// without libsentencepiece or libprotobuf: a small bounds-checked reader of
// the protobuf wire format for the fields a BPE vocabulary needs (pieces with
// scores and types, trainer_spec ids and byte_fallback, normalizer_spec).
//
// Why not libsentencepiece: Debian's build carries its own protobuf 3.14
// runtime, whose version check aborts any process that also loads the
// system libprotobuf 3.21 (every tandem server, via gRPC and LibTorch).
//
// The vocabulary is returned as llama.cpp-style tokenizer.ggml.* metadata
// (token types share SentencePiece's numbering), so the SentencePiece-BPE
// path verified against llama.cpp's llama-spm fixtures encodes it.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/sentencepiece_proto.h"

namespace tandem::tokenizer {

// The BPE vocabulary of a .model file as GGUF metadata. Unimplemented for
// other model types (unigram models load through UnigramTokenizer, see
// load_tokenizer.h), normalizers other than "identity" and
// remove_extra_whitespaces; InvalidArgument (naming `source`) for malformed
// bytes.
absl::StatusOr<GgufMetadata> ParseSentencePieceModel(absl::string_view bytes,
                                                     absl::string_view source);
absl::StatusOr<GgufMetadata> ReadSentencePieceModel(const std::string& path);
absl::StatusOr<GgufMetadata> SentencePieceBpeToGguf(const SpmModelProto& proto,
                                                    absl::string_view source);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_SENTENCEPIECE_MODEL_FILE_H_
