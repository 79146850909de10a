#ifndef TANDEM_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
#define TANDEM_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_

// SentencePiece .model files (BPE or unigram) through Debian's
// libsentencepiece. Encode adds BOS when add_special_tokens and the model has
// a BOS piece; control pieces (<s>, </s>, ...) are recognised in the input
// when parse_special (SentencePiece itself never does). Decode follows
// SentencePiece: the leading "▁" of the text is dropped, byte pieces are
// joined, unknown pieces decode as " ⁇ ".

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizer/sentencepiece_shim.h"
#include "tokenizer/tokenizer.h"

namespace tandem::tokenizer {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // NotFound / InvalidArgument (naming `path`) when the file is missing or
  // not a SentencePiece model.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Load(const std::string& path);
  // From the serialized ModelProto bytes.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> FromSerialized(
      const std::string& bytes, const std::string& source);
  ~SentencePieceTokenizer() override;

  using Tokenizer::Decode;
  using Tokenizer::Encode;
  absl::StatusOr<std::vector<int32_t>> Encode(absl::string_view text,
                                              const EncodeOptions& options) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     const DecodeOptions& options) const override;
  absl::StatusOr<std::string> TokenBytes(int32_t id) const override;
  bool strips_leading_space() const override { return true; }
  int32_t vocab_size() const override;
  std::optional<int32_t> bos_id() const override;
  std::optional<int32_t> eos_id() const override;
  bool IsSpecial(int32_t id) const override;
  std::vector<int32_t> special_ids() const override;
  std::string identity() const override { return identity_; }

 private:
  explicit SentencePieceTokenizer(std::unique_ptr<SentencePieceShim> sp);
  absl::Status EncodePlain(absl::string_view text, std::vector<int32_t>& out) const;

  std::unique_ptr<SentencePieceShim> sp_;
  std::vector<int32_t> control_ids_;
  std::string identity_;
};

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
