#ifndef TANDEM_TOKENIZER_JINJA_PY_STRING_H_
#define TANDEM_TOKENIZER_JINJA_PY_STRING_H_

// Python str methods over UTF-8 strings, with CPython's Unicode rules:
// whitespace is str.isspace(), case mappings are full Unicode mappings (ICU),
// indices count code points. Inputs are valid UTF-8 (ChatTemplate checks
// its inputs; template literals are decoded from valid UTF-8).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tandem::tokenizer::jinja {

// str.isspace() of one code point (also what Python's regex \s matches).
bool IsPySpace(char32_t cp);

// str.isprintable() of one code point.
bool IsPyPrintable(char32_t cp);

// str.strip / lstrip / rstrip; `chars` absent = whitespace.
enum class StripSide { kBoth, kLeft, kRight };
std::string PyStrip(absl::string_view s, const std::optional<std::string>& chars,
                    StripSide side);

// str.split(sep, maxsplit); `sep` absent = runs of whitespace, empty parts
// dropped. maxsplit < 0 = no limit. `sep` must not be empty.
std::vector<std::string> PySplit(absl::string_view s, const std::optional<std::string>& sep,
                                 int64_t maxsplit);

// str.replace(old, new, count); count < 0 = all.
std::string PyReplace(absl::string_view s, absl::string_view old_text,
                      absl::string_view new_text, int64_t count);

std::string PyUpper(absl::string_view s);
std::string PyLower(absl::string_view s);
// str.capitalize(): first character title-cased, the rest lower-cased.
std::string PyCapitalize(absl::string_view s);
// str.title(): cased characters after an uncased one are title-cased.
std::string PyTitle(absl::string_view s);
// jinja2's `title` filter: words split on runs of whitespace, '-', '(', '{',
// '[', '<'; each word's first character upper-cased, the rest lower-cased.
std::string JinjaTitle(absl::string_view s);

// s[start:stop:step] over code points with Python's slice semantics (each
// bound optional). `step` must not be 0.
std::string PySliceString(absl::string_view s, std::optional<int64_t> start,
                          std::optional<int64_t> stop, std::optional<int64_t> step);

// The indices that Python's slice(start, stop, step) selects from a
// sequence of `length` items, in order.
std::vector<int64_t> SliceIndices(int64_t length, std::optional<int64_t> start,
                                  std::optional<int64_t> stop, std::optional<int64_t> step);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_PY_STRING_H_
