#ifndef TANDEM_TOKENIZER_REGEX_SPLITTER_H_
#define TANDEM_TOKENIZER_REGEX_SPLITTER_H_

// Splitting text by a Unicode regex (PCRE2 in UTF + UCP mode, so \p{L}, \s
// and look-ahead such as `\s+(?!\S)` behave as in the Oniguruma/Rust regexes
// that Hugging Face tokenizers and llama.cpp use).

#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace tandem::tokenizer {

// What happens to the matches (Hugging Face SplitDelimiterBehavior).
enum class SplitBehavior {
  kIsolated,            // matches and the gaps between them are pieces
  kRemoved,             // only the gaps are pieces
  kMergedWithPrevious,  // each match is appended to the piece before it
  kMergedWithNext,      // each match starts the piece after it
  kContiguous,          // adjacent matches form one piece
};

// Immutable after Create; Split is thread-safe (match data per call).
class RegexSplitter {
 public:
  // `pattern` is a regex, or a literal string when `literal`. invert: the
  // gaps play the role of the matches. InvalidArgument if it does not compile.
  static absl::StatusOr<std::unique_ptr<RegexSplitter>> Create(
      absl::string_view pattern, bool literal, SplitBehavior behavior,
      bool invert);
  ~RegexSplitter();

  // Non-empty pieces of `text` (valid UTF-8) in order; concatenated they
  // give `text` unless the behavior is kRemoved.
  std::vector<absl::string_view> Split(absl::string_view text) const;

 private:
  struct Impl;
  RegexSplitter(std::unique_ptr<Impl> impl, SplitBehavior behavior, bool invert);

  std::unique_ptr<Impl> impl_;
  SplitBehavior behavior_;
  bool invert_;
};

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_REGEX_SPLITTER_H_
