#ifndef TANDEM_TOKENIZER_UNIGRAM_TOKENIZER_H_
#define TANDEM_TOKENIZER_UNIGRAM_TOKENIZER_H_

// SentencePiece unigram models (model_type 1: T5, ALBERT, XLNet, mT5, ...)
// without libsentencepiece, reproducing SentencePiece 0.1.97 exactly:
//  - Encode: SentencePieceNormalizer, then the Viterbi best path over the
//    piece scores (Model::EncodeOptimized: ties keep the earlier start;
//    user-defined pieces score length * max_score - 0.1; unused pieces never
//    match; a character no piece covers is <unk> scored min_score - 10);
//    <unk> spans become <0xXX> byte pieces when byte_fallback, else
//    consecutive ones merge into one <unk>.
//  - Decode: control pieces are invisible (their text when
//    !skip_special_tokens), <unk> is the trainer's unk_surface (" ⁇ "), byte
//    pieces are joined (invalid UTF-8 as U+FFFD), "▁" is a space and the
//    leading one of the text is dropped (add_dummy_prefix /
//    remove_extra_whitespaces).
// Encode adds BOS when add_special_tokens and the model has one; control
// pieces in the input are recognised when parse_special.
// Immutable after loading; thread-safe.

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "tokenizer/sentencepiece_normalizer.h"
#include "tokenizer/sentencepiece_proto.h"
#include "tokenizer/tokenizer.h"

namespace tandem::tokenizer {

class UnigramTokenizer : public Tokenizer {
 public:
  // InvalidArgument (naming `source`) for an inconsistent vocabulary (empty
  // or duplicate pieces, no or two <unk>, byte pieces without byte_fallback
  // or fewer than 256 of them); Unimplemented for a normalizer it cannot
  // reproduce (see SentencePieceNormalizer::Create).
  static absl::StatusOr<std::unique_ptr<UnigramTokenizer>> FromProto(
      SpmModelProto proto, absl::string_view source);

  using Tokenizer::Decode;
  using Tokenizer::Encode;
  absl::StatusOr<std::vector<int32_t>> Encode(absl::string_view text,
                                              const EncodeOptions& options) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     const DecodeOptions& options) const override;
  absl::StatusOr<std::string> TokenBytes(int32_t id) const override;
  bool strips_leading_space() const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(proto_.pieces.size()); }
  std::optional<int32_t> bos_id() const override;
  std::optional<int32_t> eos_id() const override;
  bool IsSpecial(int32_t id) const override;
  std::vector<int32_t> special_ids() const override { return control_ids_; }
  std::string identity() const override { return identity_; }

 private:
  UnigramTokenizer(SpmModelProto proto, SentencePieceNormalizer normalizer);
  absl::Status IndexPieces(absl::string_view source);
  bool Is(int32_t id, SpmPieceType type) const {
    return proto_.pieces[id].type == type;
  }
  // Viterbi segmentation of normalized text: (piece bytes, id) in order.
  std::vector<std::pair<absl::string_view, int32_t>> BestPath(absl::string_view normalized) const;
  void EncodePlain(absl::string_view text, std::vector<int32_t>& out) const;

  SpmModelProto proto_;
  SentencePieceNormalizer normalizer_;
  // NORMAL, USER_DEFINED and UNUSED pieces: what the Viterbi search matches.
  absl::flat_hash_map<std::string, int32_t> matchable_;
  size_t max_piece_bytes_ = 0;
  int32_t unk_id_ = -1;
  std::array<int32_t, 256> byte_ids_{};
  float min_score_ = 0, max_score_ = 0;
  std::vector<int32_t> control_ids_;
  std::string identity_;
};

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_UNIGRAM_TOKENIZER_H_
