#include "tokenizer/utf8.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace tandem::tokenizer {
namespace {

// Expected total length from a lead byte, 0 if it cannot start a sequence.
size_t LeadLength(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

// Valid range of the second byte given the lead byte (Unicode Table 3-7).
bool SecondByteOk(unsigned char lead, unsigned char c) {
  switch (lead) {
    case 0xE0: return c >= 0xA0 && c <= 0xBF;
    case 0xED: return c >= 0x80 && c <= 0x9F;
    case 0xF0: return c >= 0x90 && c <= 0xBF;
    case 0xF4: return c >= 0x80 && c <= 0x8F;
    default: return c >= 0x80 && c <= 0xBF;
  }
}

// Number of bytes starting at pos that are a valid (possibly incomplete)
// prefix of a sequence; `complete` says whether it is a whole sequence.
size_t ValidPrefix(absl::string_view s, size_t pos, bool& complete) {
  const unsigned char lead = static_cast<unsigned char>(s[pos]);
  const size_t need = LeadLength(lead);
  complete = false;
  if (need == 0) return 0;
  size_t n = 1;
  while (n < need && pos + n < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[pos + n]);
    const bool ok = n == 1 ? SecondByteOk(lead, c) : (c >= 0x80 && c <= 0xBF);
    if (!ok) return n;
    ++n;
  }
  complete = n == need;
  return n;
}

}  // namespace

size_t ValidSequenceLength(absl::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  bool complete = false;
  const size_t n = ValidPrefix(s, pos, complete);
  return complete ? n : 0;
}

bool IsValidUtf8(absl::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t n = ValidSequenceLength(s, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

size_t IncompleteSuffixLength(absl::string_view s) {
  const size_t start = s.size() > 3 ? s.size() - 3 : 0;
  for (size_t pos = start; pos < s.size(); ++pos) {
    bool complete = false;
    const size_t n = ValidPrefix(s, pos, complete);
    if (!complete && n > 0 && pos + n == s.size()) return n;
  }
  return 0;
}

std::string ToValidUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    bool complete = false;
    const size_t n = ValidPrefix(s, pos, complete);
    if (complete) {
      absl::StrAppend(&out, s.substr(pos, n));
      pos += n;
    } else {
      absl::StrAppend(&out, "\xEF\xBF\xBD");
      pos += n == 0 ? 1 : n;
    }
  }
  return out;
}

void AppendCodepoint(char32_t cp, std::string& out) {
  const uint32_t c = static_cast<uint32_t>(cp);
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::u32string DecodeUtf8(absl::string_view s) {
  const std::string valid = ToValidUtf8(s);
  std::u32string out;
  out.reserve(valid.size());
  for (size_t pos = 0; pos < valid.size();) {
    const auto lead = static_cast<unsigned char>(valid[pos]);
    const size_t n = LeadLength(lead);
    char32_t cp = n == 1 ? lead : lead & (0x7F >> n);
    for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (valid[pos + i] & 0x3F);
    out.push_back(cp);
    pos += n;
  }
  return out;
}

}  // namespace tandem::tokenizer
