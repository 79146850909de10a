#include "tokenizer/jinja/lexer.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tokenizer/jinja/py_string.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer::jinja {
namespace {

absl::Status Error(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("chat template line ", line, ": ", what));
}

int CountNewlines(absl::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Length of the whitespace (Python \s) code point at s[pos], 0 if none.
size_t SpaceAt(absl::string_view s, size_t pos) {
  const size_t n = ValidSequenceLength(s, pos);
  if (n == 0) return 0;
  const std::u32string cp = DecodeUtf8(s.substr(pos, n));
  return IsPySpace(cp[0]) ? n : 0;
}

size_t SkipSpace(absl::string_view s, size_t pos) {
  while (pos < s.size()) {
    const size_t n = SpaceAt(s, pos);
    if (n == 0) break;
    pos += n;
  }
  return pos;
}

// Python's text.rstrip(): the length of `text` without trailing whitespace.
size_t RStripLength(absl::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    if (SpaceAt(text, start) != end - start) break;
    end = start;
  }
  return end;
}

// jinja2's newline normalization and keep_trailing_newline=False.
std::string NormalizeNewlines(absl::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Decodes a string literal body as Python's unicode-escape would.
absl::StatusOr<std::string> Unescape(absl::string_view body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\') {
      out += body[i];
      continue;
    }
    if (++i == body.size()) return Error(line, "string literal ends with a backslash");
    const char c = body[i];
    switch (c) {
      case '\n': break;  // line continuation
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': case 'u': case 'U': {
        const size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        if (i + digits >= body.size()) {
          return Error(line, "truncated \\x/\\u escape in a string literal");
        }
        const std::string hex(body.substr(i + 1, digits));
        if (hex.size() != digits || !std::all_of(hex.begin(), hex.end(), ::isxdigit)) {
          return Error(line, "malformed \\x/\\u escape in a string literal");
        }
        const unsigned long cp = std::strtoul(hex.c_str(), nullptr, 16);
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          return Error(line, "escape outside Unicode scalar values in a string literal");
        }
        AppendCodepoint(static_cast<char32_t>(cp), out);
        i += digits;
        break;
      }
      default:
        if (c >= '0' && c <= '7') {
          unsigned cp = 0;
          size_t n = 0;
          while (n < 3 && i + n < body.size() && body[i + n] >= '0' && body[i + n] <= '7') {
            cp = cp * 8 + (body[i + n] - '0');
            ++n;
          }
          AppendCodepoint(cp, out);
          i += n - 1;
        } else if (c == 'N' || static_cast<unsigned char>(c) >= 0x80) {
          return Error(line, "unsupported escape in a string literal");
        } else {
          out += '\\';  // Python keeps unknown escapes
          out += c;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  absl::StatusOr<std::vector<Token>> Run() {
    while (pos_ < src_.size()) {
      if (auto s = Step(); !s.ok()) return s;
    }
    Emit(TokenType::kEnd, "");
    return std::move(tokens_);
  }

 private:
  void Emit(TokenType type, std::string text) {
    Token t;
    t.type = type;
    t.text = std::move(text);
    t.line = line_;
    tokens_.push_back(std::move(t));
  }

  // Applies `-` / lstrip_blocks to the data before a tag and emits it.
  void EmitData(absl::string_view text, char sign, bool lstrip_allowed) {
    const int newlines = CountNewlines(text);
    if (sign == '-') {
      text = text.substr(0, RStripLength(text));
    } else if (sign != '+' && lstrip_allowed) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == absl::string_view::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && l_pos < text.size() &&
          SkipSpace(text, l_pos) == text.size()) {
        text = text.substr(0, l_pos);
      }
    }
    if (!text.empty()) Emit(TokenType::kData, std::string(text));
    line_ += newlines;
  }

  absl::Status Step() {
    const size_t tag = FindTagStart(pos_);
    if (tag == std::string::npos) {
      EmitData(absl::string_view(src_).substr(pos_), 0, false);
      pos_ = src_.size();
      return absl::OkStatus();
    }
    const char kind = src_[tag + 1];
    const char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+')
                          ? src_[tag + 2] : 0;
    const absl::string_view text = absl::string_view(src_).substr(pos_, tag - pos_);
    EmitData(text, sign, kind != '{');
    pos_ = tag + 2 + (sign ? 1 : 0);
    line_starting_ = false;
    if (kind == '#') return Comment();
    if (kind == '%' && RawBegin()) return Raw();
    return Tag(kind == '{');
  }

  size_t FindTagStart(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }

  // After a `%}`/`#}`: `-` eats all whitespace, trim_blocks one newline.
  void AfterBlockEnd(char sign) {
    if (sign == '-') {
      const size_t end = SkipSpace(src_, pos_);
      line_ += CountNewlines(absl::string_view(src_).substr(pos_, end - pos_));
      pos_ = end;
    } else if (sign != '+' && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
      ++line_;
    }
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  }

  absl::Status Comment() {
    for (size_t i = pos_; i + 1 < src_.size(); ++i) {
      char sign = 0;
      if ((src_[i] == '-' || src_[i] == '+') && src_.compare(i + 1, 2, "#}") == 0) {
        sign = src_[i];
      } else if (src_.compare(i, 2, "#}") != 0) {
        continue;
      }
      line_ += CountNewlines(absl::string_view(src_).substr(pos_, i - pos_));
      pos_ = i + (sign ? 3 : 2);
      AfterBlockEnd(sign);
      return absl::OkStatus();
    }
    return Error(line_, "missing end of comment tag");
  }

  // At `{%[-+]?`: true and past the tag if it is `{% raw %}`.
  bool RawBegin() {
    const size_t start = pos_;
    size_t p = SkipSpace(src_, pos_);
    if (src_.compare(p, 3, "raw") != 0) return false;
    p = SkipSpace(src_, p + 3);
    if (src_.compare(p, 3, "-%}") == 0) {
      pos_ = SkipSpace(src_, p + 3);
    } else if (src_.compare(p, 2, "%}") == 0) {
      pos_ = p + 2;
    } else {
      return false;
    }
    line_ += CountNewlines(absl::string_view(src_).substr(start, pos_ - start));
    line_starting_ = src_[pos_ - 1] == '\n';
    return true;
  }

  absl::Status Raw() {
    for (size_t i = src_.find("{%", pos_); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t p = i + 2;
      const char sign = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p++] : 0;
      p = SkipSpace(src_, p);
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p = SkipSpace(src_, p + 6);
      char end_sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) end_sign = src_[p++];
      if (src_.compare(p, 2, "%}") != 0) continue;
      EmitData(absl::string_view(src_).substr(pos_, i - pos_), sign, true);
      line_ += CountNewlines(absl::string_view(src_).substr(i, p - i));
      pos_ = p + 2;
      AfterBlockEnd(end_sign);
      return absl::OkStatus();
    }
    return Error(line_, "missing end of raw directive");
  }

  // True (and past it) if a closing delimiter starts at pos_.
  bool TagEnd(bool variable) {
    if (variable) {
      if (src_.compare(pos_, 3, "-}}") == 0) {
        pos_ += 3;
        const size_t end = SkipSpace(src_, pos_);
        line_ += CountNewlines(absl::string_view(src_).substr(pos_, end - pos_));
        pos_ = end;
      } else if (src_.compare(pos_, 2, "}}") == 0) {
        pos_ += 2;
      } else {
        return false;
      }
      Emit(TokenType::kVariableEnd, "");
      line_starting_ = src_[pos_ - 1] == '\n';
      return true;
    }
    char sign = 0;
    if ((src_.compare(pos_, 3, "+%}") == 0 || src_.compare(pos_, 3, "-%}") == 0)) {
      sign = src_[pos_];
      pos_ += 3;
    } else if (src_.compare(pos_, 2, "%}") == 0) {
      pos_ += 2;
    } else {
      return false;
    }
    Emit(TokenType::kBlockEnd, "");
    AfterBlockEnd(sign);
    return true;
  }

  absl::Status Tag(bool variable) {
    Emit(variable ? TokenType::kVariableBegin : TokenType::kBlockBegin, "");
    std::string brackets;
    while (pos_ < src_.size()) {
      if (brackets.empty() && TagEnd(variable)) return absl::OkStatus();
      if (const size_t n = SpaceAt(src_, pos_); n > 0) {
        line_ += src_[pos_] == '\n';
        pos_ += n;
        continue;
      }
      const char c = src_[pos_];
      absl::Status s;
      if (absl::ascii_isdigit(c)) {
        s = Number();
      } else if (absl::ascii_isalpha(c) || c == '_') {
        size_t end = pos_;
        while (end < src_.size() && (absl::ascii_isalnum(src_[end]) || src_[end] == '_')) ++end;
        Emit(TokenType::kName, src_.substr(pos_, end - pos_));
        pos_ = end;
      } else if (c == '\'' || c == '"') {
        s = String(c);
      } else {
        s = Operator(brackets);
      }
      if (!s.ok()) return s;
    }
    return Error(line_, variable ? "unexpected end of template, expected '}}'"
                                 : "unexpected end of template, expected '%}'");
  }

  absl::Status Number() {
    size_t end = pos_;
    auto digits = [&] {
      while (end < src_.size() && absl::ascii_isdigit(src_[end])) ++end;
    };
    digits();
    bool is_float = false;
    if (end + 1 < src_.size() && src_[end] == '.' && absl::ascii_isdigit(src_[end + 1])) {
      ++end;
      digits();
      is_float = true;
    }
    if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t p = end + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && absl::ascii_isdigit(src_[p])) {
        end = p;
        digits();
        is_float = true;
      }
    }
    if (end < src_.size() && (absl::ascii_isalpha(src_[end]) || src_[end] == '_')) {
      return Error(line_, absl::StrCat("unsupported number literal near '",
                                       src_.substr(pos_, end + 1 - pos_), "'"));
    }
    const std::string text = src_.substr(pos_, end - pos_);
    Token t;
    t.line = line_;
    t.text = text;
    if (is_float) {
      t.type = TokenType::kFloat;
      t.number = std::strtod(text.c_str(), nullptr);
    } else {
      if (text.size() > 1 && text[0] == '0') {
        return Error(line_, absl::StrCat("unsupported number literal '", text, "'"));
      }
      errno = 0;
      t.type = TokenType::kInteger;
      t.integer = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) return Error(line_, "integer literal out of 64-bit range");
    }
    tokens_.push_back(std::move(t));
    pos_ = end;
    return absl::OkStatus();
  }

  absl::Status String(char quote) {
    size_t i = pos_ + 1;
    while (i < src_.size() && src_[i] != quote) i += src_[i] == '\\' ? 2 : 1;
    if (i >= src_.size()) return Error(line_, "unterminated string literal");
    auto text = Unescape(absl::string_view(src_).substr(pos_ + 1, i - pos_ - 1), line_);
    if (!text.ok()) return text.status();
    Emit(TokenType::kString, std::move(*text));
    line_ += CountNewlines(absl::string_view(src_).substr(pos_, i - pos_));
    pos_ = i + 1;
    return absl::OkStatus();
  }

  absl::Status Operator(std::string& brackets) {
    static const char* const kOperators[] = {
        "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
        "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};
    for (const char* op : kOperators) {
      if (src_.compare(pos_, std::char_traits<char>::length(op), op) != 0) continue;
      const std::string text(op);
      if (text == "(" || text == "[" || text == "{") {
        brackets.push_back(text == "(" ? ')' : text == "[" ? ']' : '}');
      } else if (text == ")" || text == "]" || text == "}") {
        if (brackets.empty() || brackets.back() != text[0]) {
          return Error(line_, absl::StrCat("unexpected '", text, "'"));
        }
        brackets.pop_back();
      }
      Emit(TokenType::kOperator, text);
      pos_ += text.size();
      return absl::OkStatus();
    }
    return Error(line_, absl::StrCat("unexpected char '", src_.substr(pos_, 1), "'"));
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view source) {
  if (!IsValidUtf8(source)) return absl::InvalidArgumentError("chat template is not valid UTF-8");
  return Lexer(NormalizeNewlines(source)).Run();
}

}  // namespace tandem::tokenizer::jinja
