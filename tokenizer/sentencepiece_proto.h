#ifndef TANDEM_TOKENIZER_SENTENCEPIECE_PROTO_H_
#define TANDEM_TOKENIZER_SENTENCEPIECE_PROTO_H_

// The fields of a serialized sentencepiece.ModelProto (a SentencePiece
// .model file) that encoding and decoding need, read by a small
// bounds-checked reader of the protobuf wire format: no libprotobuf and no
// libsentencepiece (see sentencepiece_model_file.h for why). Missing fields
// take the defaults of sentencepiece_model.proto.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tandem::tokenizer {

// ModelProto.SentencePiece.Type.
enum class SpmPieceType : int {
  kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

struct SpmPiece {
  std::string text;
  float score = 0;
  SpmPieceType type = SpmPieceType::kNormal;
};

// NormalizerSpec (also used for the denormalizer_spec).
struct SpmNormalizerSpec {
  bool present = false;
  std::string name;
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
  std::string normalization_rule_tsv;
};

struct SpmModelProto {
  std::vector<SpmPiece> pieces;
  // TrainerSpec.
  int model_type = 1;  // 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  int64_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  std::string unk_surface = " \xE2\x81\x87 ";
  SpmNormalizerSpec normalizer;
  SpmNormalizerSpec denormalizer;
};

// InvalidArgument naming `source` for malformed bytes or a model without
// pieces.
absl::StatusOr<SpmModelProto> ParseSpmModelProto(absl::string_view bytes,
                                                 absl::string_view source);

// The file's bytes; NotFound naming `path` when unreadable.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_SENTENCEPIECE_PROTO_H_
