#include "tokenizer/byte_level.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer {
namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int, 0x144> to_byte{};  // -1: not a mapped character
};

const Tables& GetTables() {
  static const Tables* tables = [] {
    auto* t = new Tables();
    t->to_byte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) ||
                             (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t c = printable ? static_cast<char32_t>(b)
                                   : static_cast<char32_t>(0x100 + next++);
      t->to_char[b] = c;
      t->to_byte[c] = b;
    }
    return t;
  }();
  return *tables;
}

}  // namespace

std::string BytesToByteLevel(absl::string_view bytes) {
  const Tables& t = GetTables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) AppendCodepoint(t.to_char[b], out);
  return out;
}

std::string ByteLevelToBytes(absl::string_view text) {
  const Tables& t = GetTables();
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const unsigned char c0 = static_cast<unsigned char>(text[pos]);
    size_t n = ValidSequenceLength(text, pos);
    if (n == 0) n = 1;
    char32_t cp = c0;
    if (n == 2) {
      cp = ((c0 & 0x1F) << 6) | (static_cast<unsigned char>(text[pos + 1]) & 0x3F);
    }
    if (n <= 2 && cp < t.to_byte.size() && t.to_byte[cp] >= 0) {
      out.push_back(static_cast<char>(t.to_byte[cp]));
    } else {
      absl::StrAppend(&out, text.substr(pos, n));
    }
    pos += n;
  }
  return out;
}

}  // namespace tandem::tokenizer
