#ifndef TANDEM_TOKENIZER_SENTENCEPIECE_NORMALIZER_H_
#define TANDEM_TOKENIZER_SENTENCEPIECE_NORMALIZER_H_

// SentencePiece's normalizer (normalizer.cc of SentencePiece 0.1.97),
// reproduced byte for byte: user-defined symbols pass through untouched;
// otherwise the longest prefix found in the precompiled charsmap (a
// darts-clone double-array trie over the source strings + a blob of
// NUL-terminated replacements, as nmt_nfkc, nfkc, nfkc_cf, nmt_nfkc_cf and
// rule-TSV models carry) is replaced, else one UTF-8 character is copied
// (an invalid byte becomes U+FFFD); remove_extra_whitespaces drops leading,
// trailing and repeated spaces, add_dummy_prefix prepends one, and
// escape_whitespaces writes them as "▁".

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/sentencepiece_proto.h"

namespace tandem::tokenizer {

class SentencePieceNormalizer {
 public:
  // Unimplemented (naming `source`) for what it cannot reproduce exactly: a
  // normalizer other than "identity" without a precompiled charsmap, and
  // treat_whitespace_as_suffix; InvalidArgument for a malformed charsmap.
  static absl::StatusOr<SentencePieceNormalizer> Create(
      const SpmNormalizerSpec& spec, bool treat_whitespace_as_suffix,
      std::vector<std::string> user_defined_symbols, absl::string_view source);

  std::string Normalize(absl::string_view input) const;

 private:
  SentencePieceNormalizer() = default;
  // The normalized text of the longest rule at the start of `input` and the
  // number of input bytes it consumes (> 0 for non-empty input).
  std::pair<absl::string_view, size_t> NormalizePrefix(absl::string_view input) const;
  // Longest trie key that prefixes `input`: its length (0 if none) and value.
  std::pair<size_t, uint32_t> LongestCharsmapMatch(absl::string_view input) const;

  SpmNormalizerSpec spec_;
  std::vector<uint32_t> trie_;
  std::string replacements_;
  std::set<std::string, std::less<>> user_defined_;
  size_t max_user_defined_ = 0;
};

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_SENTENCEPIECE_NORMALIZER_H_
