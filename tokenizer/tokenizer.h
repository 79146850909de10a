#ifndef TANDEM_TOKENIZER_TOKENIZER_H_
#define TANDEM_TOKENIZER_TOKENIZER_H_

// The tokenizer interface shared by every vocabulary format tandem reads
// (Hugging Face tokenizer.json, SentencePiece .model, GGUF tokenizer.ggml.*).
//
// Thread-safety: implementations are immutable after loading; every method is
// const and may be called concurrently.

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace tandem::tokenizer {

struct EncodeOptions {
  // Add the tokens the format's post-processing asks for (BOS for Llama 2,
  // the TemplateProcessing tokens of a tokenizer.json, ...). Never adds
  // anything for tokenizers whose post-processing adds nothing (GPT-2, Qwen).
  bool add_special_tokens = true;
  // Recognise the text of special (control) tokens in the input, e.g.
  // "<|im_end|>" -> its id. When false such text is tokenized as plain text.
  // Non-special added tokens are always recognised.
  bool parse_special = true;
};

struct DecodeOptions {
  // Drop special (control) tokens such as BOS/EOS from the text.
  bool skip_special_tokens = true;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text` (UTF-8; invalid UTF-8 -> InvalidArgument).
  virtual absl::StatusOr<std::vector<int32_t>> Encode(
      absl::string_view text, const EncodeOptions& options) const = 0;
  absl::StatusOr<std::vector<int32_t>> Encode(absl::string_view text) const {
    return Encode(text, EncodeOptions());
  }

  // Text of `ids`. Byte sequences that are not valid UTF-8 become U+FFFD.
  // Ids outside [0, vocab_size()) -> OutOfRange.
  virtual absl::StatusOr<std::string> Decode(
      absl::Span<const int32_t> ids, const DecodeOptions& options) const = 0;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids) const {
    return Decode(ids, DecodeOptions());
  }

  // The raw bytes token `id` contributes to decoded text (possibly a partial
  // UTF-8 sequence, e.g. a byte-fallback token <0xE2>). SentencePiece's "▁"
  // is a space here; the leading-space removal of the decoder is not applied
  // (see strips_leading_space()). Special tokens give their text.
  virtual absl::StatusOr<std::string> TokenBytes(int32_t id) const = 0;

  // True when Decode removes one leading space of the first decoded token
  // (SentencePiece-style vocabularies that prepend "▁" when encoding).
  virtual bool strips_leading_space() const = 0;

  // Number of ids, added/special tokens included.
  virtual int32_t vocab_size() const = 0;
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  virtual bool IsSpecial(int32_t id) const = 0;
  // All special (control) token ids, ascending.
  virtual std::vector<int32_t> special_ids() const = 0;

  // "<format> vocab=<size> fp=<16 hex digits>": the fingerprint hashes every
  // id's TokenBytes and special flag, so two tokenizers with equal
  // fingerprints map ids to the same text (a draft/target compatibility
  // check) even when loaded from different file formats.
  virtual std::string identity() const = 0;
};

// "<format> vocab=N fp=HEX" for `tokenizer` (helper for implementations; call
// once after loading, it walks the whole vocabulary).
std::string ComputeIdentity(absl::string_view format, const Tokenizer& tokenizer);

// The fingerprint part of an identity() string ("fp=..."), for comparing
// tokenizers loaded from different formats.
absl::string_view IdentityFingerprint(absl::string_view identity);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_TOKENIZER_H_
