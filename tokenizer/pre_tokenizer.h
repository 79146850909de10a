#ifndef TANDEM_TOKENIZER_PRE_TOKENIZER_H_
#define TANDEM_TOKENIZER_PRE_TOKENIZER_H_

// Pre-tokenization: cutting normalized text into the "words" BPE runs on.
// Supported steps (Hugging Face names): Split (regex or literal), ByteLevel
// (optional GPT-2 regex, optional prefix space, then the byte -> character
// map), Metaspace (" " -> "▁", prepend scheme, optional split), Digits.

#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizer/regex_splitter.h"

namespace tandem::tokenizer {

// GPT-2's pre-tokenizer regex (also the default of HF's ByteLevel).
inline constexpr absl::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel, kMetaspace, kDigits };
  Kind kind = Kind::kSplit;
  std::shared_ptr<const RegexSplitter> splitter;  // kSplit, kByteLevel+regex
  bool add_prefix_space = false;                  // kByteLevel
  std::string replacement = "\xE2\x96\x81";       // kMetaspace ("▁")
  enum class Prepend { kAlways, kFirst, kNever };
  Prepend prepend = Prepend::kAlways;             // kMetaspace
  bool split = true;                              // kMetaspace
  bool individual_digits = false;                 // kDigits
};

// Immutable after construction; thread-safe.
class PreTokenizer {
 public:
  PreTokenizer() = default;
  explicit PreTokenizer(std::vector<PreTokenizerStep> steps) : steps_(std::move(steps)) {}

  // Convenience: ByteLevel with GPT-2's regex, or Split(pattern) + ByteLevel.
  static absl::StatusOr<PreTokenizer> ByteLevelWithPatterns(
      const std::vector<std::string>& patterns);

  // Words of `text`. `first_segment`: the text starts the input (not after an
  // added token); Metaspace's kFirst scheme prepends only then.
  std::vector<std::string> Apply(absl::string_view text, bool first_segment) const;

  // Whether a ByteLevel step maps the words to byte-level characters.
  bool byte_level() const;

 private:
  std::vector<PreTokenizerStep> steps_;
};

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_PRE_TOKENIZER_H_
