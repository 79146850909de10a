#ifndef TANDEM_TOKENIZER_NORMALIZER_H_
#define TANDEM_TOKENIZER_NORMALIZER_H_

// Text normalizers applied before pre-tokenization (the subset of Hugging
// Face's normalizers the supported families use): Unicode NFC/NFD/NFKC/NFKD
// (ICU), Prepend, literal Replace, Lowercase, and sequences of those.

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"

namespace tandem::tokenizer {

struct NormalizerStep {
  enum class Kind { kNfc, kNfd, kNfkc, kNfkd, kPrepend, kReplace, kLowercase };
  Kind kind = Kind::kNfc;
  std::string text;         // kPrepend: the prefix; kReplace: the pattern
  std::string replacement;  // kReplace
};

// An ordered list of steps; empty = identity. Immutable, thread-safe.
class Normalizer {
 public:
  Normalizer() = default;
  explicit Normalizer(std::vector<NormalizerStep> steps) : steps_(std::move(steps)) {}

  // `text` must be valid UTF-8. Prepend adds its prefix to non-empty text only.
  std::string Apply(absl::string_view text) const;

  bool empty() const { return steps_.empty(); }
  const std::vector<NormalizerStep>& steps() const { return steps_; }

 private:
  std::vector<NormalizerStep> steps_;
};

// `text` with every occurrence of `from` (non-empty) replaced by `to`.
std::string ReplaceAll(absl::string_view text, absl::string_view from,
                       absl::string_view to);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_NORMALIZER_H_
