#ifndef TANDEM_TOKENIZER_ADDED_TOKENS_H_
#define TANDEM_TOKENIZER_ADDED_TOKENS_H_

// Added tokens (Hugging Face "added_tokens", GGUF control/user-defined
// tokens): strings matched in the input before normalization and
// pre-tokenization, each becoming one id.

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace tandem::tokenizer {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;      // a control token: skipped by Decode(skip_special)
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool single_word = false;  // only matches when not inside a word
  bool normalized = false;   // matched against normalized text (HF)
};

// A piece of input: plain text (id < 0) or an added token.
struct Segment {
  absl::string_view text;
  int32_t id = -1;
};

// Leftmost-longest matching of a fixed token set. Immutable, thread-safe.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  // Splits `text` into segments. Tokens with `special` are skipped unless
  // `include_special`; `normalized` selects the tokens whose `normalized`
  // flag equals it. Empty text segments are dropped.
  std::vector<Segment> Split(absl::string_view text, bool include_special,
                             bool normalized) const;

  bool empty() const { return tokens_.empty(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;
  // First byte -> indices into tokens_, longest content first.
  absl::flat_hash_map<unsigned char, std::vector<size_t>> by_first_byte_;
};

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_ADDED_TOKENS_H_
