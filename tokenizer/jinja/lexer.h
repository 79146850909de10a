#ifndef TANDEM_TOKENIZER_JINJA_LEXER_H_
#define TANDEM_TOKENIZER_JINJA_LEXER_H_

// Splits a Jinja template into tokens exactly as jinja2's Lexer does with
// the environment Hugging Face builds (trim_blocks=True, lstrip_blocks=True,
// keep_trailing_newline=False, default delimiters):
//  - newlines (\r\n, \r) become \n and one trailing newline is dropped;
//  - `{%-`/`{{-`/`{#-` strip all whitespace before the tag, `-%}`/`-}}`/`-#}`
//    all whitespace after it;
//  - lstrip_blocks: spaces and tabs between a line start and `{%`/`{#` are
//    removed (not before `{{`; `{%+` keeps them);
//  - trim_blocks: one newline right after `%}` or `#}` is removed (`+%}`
//    keeps it);
//  - comments produce no token; `{% raw %}...{% endraw %}` becomes data.
// Inside tags, expression tokens follow jinja2's rules (names, strings with
// Python escapes, integers, floats, operators; a closing delimiter counts
// only when brackets are balanced).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tandem::tokenizer::jinja {

enum class TokenType {
  kData, kVariableBegin, kVariableEnd, kBlockBegin, kBlockEnd,
  kName, kString, kInteger, kFloat, kOperator, kEnd,
};

struct Token {
  TokenType type = TokenType::kEnd;
  std::string text;  // data, name, operator, decoded string literal
  int64_t integer = 0;
  double number = 0.0;
  int line = 1;
};

// The tokens of `source`, ending with one kEnd token. InvalidArgument naming
// the line for unterminated tags, comments and strings, unbalanced brackets,
// unexpected characters and escapes jinja2 would decode differently.
absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view source);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_LEXER_H_
