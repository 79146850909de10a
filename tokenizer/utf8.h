#ifndef TANDEM_TOKENIZER_UTF8_H_
#define TANDEM_TOKENIZER_UTF8_H_

// UTF-8 helpers (RFC 3629: no surrogates, no overlong forms, <= U+10FFFF).

#include <cstddef>
#include <string>
#include "absl/strings/string_view.h"

namespace tandem::tokenizer {

// Length of the valid UTF-8 sequence starting at s[pos], or 0 when the bytes
// there are not a complete valid sequence (invalid or truncated).
size_t ValidSequenceLength(absl::string_view s, size_t pos);

// True when every byte of `s` belongs to a valid sequence.
bool IsValidUtf8(absl::string_view s);

// Number of trailing bytes of `s` that form a proper prefix of a valid
// sequence (0..3): bytes a streaming decoder must hold back because more
// bytes could still complete them.
size_t IncompleteSuffixLength(absl::string_view s);

// `s` with every maximal invalid subsequence replaced by U+FFFD (the
// "substitution of maximal subparts" policy of Rust's from_utf8_lossy).
std::string ToValidUtf8(absl::string_view s);

// The code points of `s`; each maximal invalid subsequence decodes to U+FFFD
// (as ToValidUtf8).
std::u32string DecodeUtf8(absl::string_view s);

// Appends the UTF-8 encoding of `cp` (assumed valid) to `out`.
void AppendCodepoint(char32_t cp, std::string& out);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_UTF8_H_
