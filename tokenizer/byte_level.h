#ifndef TANDEM_TOKENIZER_BYTE_LEVEL_H_
#define TANDEM_TOKENIZER_BYTE_LEVEL_H_

// GPT-2's reversible byte <-> printable-character map: every byte becomes one
// Unicode character (printable Latin-1 bytes map to themselves, the others to
// U+0100..U+0143), so byte-level BPE vocabularies are valid UTF-8 strings.

#include <string>
#include "absl/strings/string_view.h"

namespace tandem::tokenizer {

// Each byte of `bytes` replaced by its mapped character (UTF-8).
std::string BytesToByteLevel(absl::string_view bytes);

// Inverse of BytesToByteLevel. Characters outside the map (e.g. the text of
// an added token) are copied through unchanged; `bytes` must be valid UTF-8.
std::string ByteLevelToBytes(absl::string_view text);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_BYTE_LEVEL_H_
