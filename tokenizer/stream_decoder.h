#ifndef TANDEM_TOKENIZER_STREAM_DECODER_H_
#define TANDEM_TOKENIZER_STREAM_DECODER_H_

// Incremental detokenization for streaming: text deltas as tokens arrive,
// each always valid UTF-8, whose concatenation (with Flush) equals
// tokenizer.Decode(all ids) for the same options.
//
// Bytes of an incomplete multi-byte character (e.g. the first <0xF0> of a
// byte-fallback emoji, or half a byte-level CJK token) are held back until
// the character completes; bytes that can no longer form a character become
// U+FFFD. For tokenizers that strip the leading space (SentencePiece), the
// first space of the stream is dropped.
//
// Not thread-safe: one per sequence. The tokenizer must outlive it.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tokenizer/tokenizer.h"

namespace tandem::tokenizer {

class StreamDecoder {
 public:
  StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options = {})
      : tokenizer_(tokenizer), options_(options) {}

  // The text that `id` completes (possibly ""). OutOfRange for a bad id.
  absl::StatusOr<std::string> Push(int32_t id);

  // Whatever is still held back (incomplete bytes -> U+FFFD); resets.
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  std::string pending_;  // bytes not yet emitted
  bool started_ = false; // some byte has been seen (leading-space rule)
};

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_STREAM_DECODER_H_
