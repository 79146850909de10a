#include "tokenizer/jinja/py_string.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utypes.h>

#include <algorithm>

#include "tokenizer/utf8.h"

namespace tandem::tokenizer::jinja {
namespace {

std::string Encode(const std::u32string& cps) {
  std::string out;
  for (char32_t cp : cps) AppendCodepoint(cp, out);
  return out;
}

std::string Encode(const std::u32string& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) AppendCodepoint(cps[i], out);
  return out;
}

std::string ToUtf8(const icu::UnicodeString& u) {
  std::string out;
  u.toUTF8String(out);
  return out;
}

icu::UnicodeString FromUtf8(absl::string_view s) {
  return icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
}

constexpr uint32_t kTitleOptions = U_TITLECASE_WHOLE_STRING | U_TITLECASE_NO_BREAK_ADJUSTMENT;

std::string TitleCodepoint(char32_t cp) {
  icu::UnicodeString u(static_cast<UChar32>(cp));
  return ToUtf8(u.toTitle(nullptr, icu::Locale::getRoot(), kTitleOptions | U_TITLECASE_NO_LOWERCASE));
}

bool InSet(const std::u32string& set, char32_t cp) {
  return set.find(cp) != std::u32string::npos;
}

}  // namespace

bool IsPySpace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x1C: case 0x1D:
    case 0x1E: case 0x1F: case 0x20: case 0x85: case 0xA0: case 0x1680: case 0x2028:
    case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool IsPyPrintable(char32_t cp) {
  if (cp == ' ') return true;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_CONTROL_CHAR: case U_FORMAT_CHAR: case U_SURROGATE: case U_PRIVATE_USE_CHAR:
    case U_UNASSIGNED: case U_LINE_SEPARATOR: case U_PARAGRAPH_SEPARATOR:
    case U_SPACE_SEPARATOR:
      return false;
    default:
      return true;
  }
}

std::string PyStrip(absl::string_view s, const std::optional<std::string>& chars,
                    StripSide side) {
  const std::u32string cps = DecodeUtf8(s);
  const std::u32string set = chars ? DecodeUtf8(*chars) : std::u32string();
  auto strip = [&](char32_t cp) { return chars ? InSet(set, cp) : IsPySpace(cp); };
  size_t begin = 0, end = cps.size();
  if (side != StripSide::kRight) {
    while (begin < end && strip(cps[begin])) ++begin;
  }
  if (side != StripSide::kLeft) {
    while (end > begin && strip(cps[end - 1])) --end;
  }
  return Encode(cps, begin, end);
}

std::vector<std::string> PySplit(absl::string_view s, const std::optional<std::string>& sep,
                                 int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t hit = s.find(*sep, pos);
      if (hit == absl::string_view::npos) break;
      parts.emplace_back(s.substr(pos, hit - pos));
      pos = hit + sep->size();
    }
    parts.emplace_back(s.substr(pos));
    return parts;
  }
  const std::u32string cps = DecodeUtf8(s);
  size_t i = 0;
  while (true) {
    while (i < cps.size() && IsPySpace(cps[i])) ++i;
    if (i == cps.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      parts.push_back(Encode(cps, i, cps.size()));  // Python keeps its trailing space
      break;
    }
    size_t j = i;
    while (j < cps.size() && !IsPySpace(cps[j])) ++j;
    parts.push_back(Encode(cps, i, j));
    i = j;
  }
  return parts;
}

std::string PyReplace(absl::string_view s, absl::string_view old_text,
                      absl::string_view new_text, int64_t count) {
  std::string out;
  if (old_text.empty()) {
    // Python inserts `new` before every code point and at the end.
    const std::u32string cps = DecodeUtf8(s);
    int64_t done = 0;
    for (char32_t cp : cps) {
      if (count < 0 || done < count) {
        out.append(new_text.data(), new_text.size());
        ++done;
      }
      AppendCodepoint(cp, out);
    }
    if (count < 0 || done < count) out.append(new_text.data(), new_text.size());
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(old_text, pos);
    if (hit == absl::string_view::npos) break;
    out.append(s.data() + pos, hit - pos);
    out.append(new_text.data(), new_text.size());
    pos = hit + old_text.size();
    ++done;
  }
  out.append(s.data() + pos, s.size() - pos);
  return out;
}

std::string PyUpper(absl::string_view s) {
  return ToUtf8(FromUtf8(s).toUpper(icu::Locale::getRoot()));
}

std::string PyLower(absl::string_view s) {
  return ToUtf8(FromUtf8(s).toLower(icu::Locale::getRoot()));
}

std::string PyCapitalize(absl::string_view s) {
  return ToUtf8(FromUtf8(s).toTitle(nullptr, icu::Locale::getRoot(), kTitleOptions));
}

std::string PyTitle(absl::string_view s) {
  std::string out;
  bool previous_cased = false;
  for (char32_t cp : DecodeUtf8(s)) {
    std::string one;
    AppendCodepoint(cp, one);
    out += previous_cased ? PyLower(one) : TitleCodepoint(cp);
    previous_cased = u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_CASED);
  }
  return out;
}

std::string JinjaTitle(absl::string_view s) {
  const std::u32string cps = DecodeUtf8(s);
  auto separator = [](char32_t cp) {
    return IsPySpace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
  };
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    const bool sep = separator(cps[i]);
    size_t j = i;
    while (j < cps.size() && separator(cps[j]) == sep) ++j;
    out += PyUpper(Encode(cps, i, i + 1)) + PyLower(Encode(cps, i + 1, j));
    i = j;
  }
  return out;
}

std::vector<int64_t> SliceIndices(int64_t length, std::optional<int64_t> start,
                                  std::optional<int64_t> stop, std::optional<int64_t> step) {
  const int64_t st = step.value_or(1);
  auto clamp = [&](std::optional<int64_t> bound, int64_t fallback) {
    if (!bound) return fallback;
    int64_t b = *bound < 0 ? *bound + length : *bound;
    if (st > 0) return std::clamp<int64_t>(b, 0, length);
    return std::clamp<int64_t>(b, -1, length - 1);
  };
  std::vector<int64_t> indices;
  const int64_t lo = clamp(start, st > 0 ? 0 : length - 1);
  const int64_t hi = clamp(stop, st > 0 ? length : -1);
  for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) indices.push_back(i);
  return indices;
}

std::string PySliceString(absl::string_view s, std::optional<int64_t> start,
                          std::optional<int64_t> stop, std::optional<int64_t> step) {
  const std::u32string cps = DecodeUtf8(s);
  std::u32string out;
  for (int64_t i : SliceIndices(static_cast<int64_t>(cps.size()), start, stop, step)) {
    out.push_back(cps[i]);
  }
  return Encode(out);
}

}  // namespace tandem::tokenizer::jinja
