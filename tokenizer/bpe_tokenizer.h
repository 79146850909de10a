#ifndef TANDEM_TOKENIZER_BPE_TOKENIZER_H_
#define TANDEM_TOKENIZER_BPE_TOKENIZER_H_

// A BPE tokenizer assembled from parts: the pipeline of Hugging Face's
// tokenizers library, which the GGUF loader reuses for llama.cpp vocabularies.
//
// Encode: split the input on added tokens (raw text, then normalized text for
// added tokens flagged `normalized`) -> normalize each text segment ->
// pre-tokenize into words -> BPE each word -> prefix/suffix ids when
// add_special_tokens.
// Decode: each id's bytes (byte-level map undone, "▁" -> " ", <0xXX> -> the
// byte, added tokens verbatim) concatenated; optionally one leading space
// stripped; invalid UTF-8 -> U+FFFD.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace tandem::tokenizer {

struct BpeDecoderConfig {
  bool byte_level = false;       // undo the GPT-2 byte map
  std::string replace_from;      // e.g. "▁" (SentencePiece word marker)
  std::string replace_to;        // e.g. " "
  bool byte_fallback = false;    // <0xXX> tokens are single bytes
  bool strip_leading_space = false;
};

struct BpeTokenizerConfig {
  std::string format;  // first word of identity(), e.g. "hf-bpe"
  std::string source;  // the file, for messages
  std::vector<AddedToken> added_tokens;  // ids may extend past the model
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  std::vector<int32_t> prefix_ids;  // added by Encode when add_special_tokens
  std::vector<int32_t> suffix_ids;
  BpeDecoderConfig decoder;
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
};

class BpeTokenizer : public Tokenizer {
 public:
  // InvalidArgument when an added token or prefix/suffix/bos/eos id is out of
  // range (the message names config.source).
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> Create(
      BpeModel model, BpeTokenizerConfig config);

  using Tokenizer::Decode;
  using Tokenizer::Encode;
  absl::StatusOr<std::vector<int32_t>> Encode(
      absl::string_view text, const EncodeOptions& options) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     const DecodeOptions& options) const override;
  absl::StatusOr<std::string> TokenBytes(int32_t id) const override;
  bool strips_leading_space() const override {
    return config_.decoder.strip_leading_space;
  }
  int32_t vocab_size() const override {
    return static_cast<int32_t>(token_bytes_.size());
  }
  std::optional<int32_t> bos_id() const override { return config_.bos_id; }
  std::optional<int32_t> eos_id() const override { return config_.eos_id; }
  bool IsSpecial(int32_t id) const override;
  std::vector<int32_t> special_ids() const override;
  std::string identity() const override { return identity_; }

  const BpeModel& model() const { return model_; }

 private:
  BpeTokenizer(BpeModel model, BpeTokenizerConfig config);
  void EncodeText(absl::string_view text, bool first_segment,
                  const EncodeOptions& options, std::vector<int32_t>& out) const;

  BpeModel model_;
  BpeTokenizerConfig config_;
  AddedTokenMatcher added_;
  std::vector<std::string> token_bytes_;
  std::vector<bool> special_;
  std::string identity_;
};

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_BPE_TOKENIZER_H_
