#ifndef TANDEM_TOKENIZER_JINJA_PARSER_H_
#define TANDEM_TOKENIZER_JINJA_PARSER_H_

// Parses jinja2 syntax (the grammar and operator precedence of jinja2's
// Parser) into a syntax tree, accepting only what the interpreter
// implements. Supported statements: if/elif/else, for (tuple targets,
// `if` filter, else), set (name, tuple, namespace attribute, block form),
// break/continue (jinja2.ext.loopcontrols, which Hugging Face loads) and
// generation/endgeneration (Hugging Face's AssistantTracker; renders its
// body). Everything else (macro, call, include, import, extends, block,
// filter blocks, with, recursive loops, unknown filters/tests/methods/
// functions, `safe` other than as the last filter of a {{ }}) is rejected.

#include <vector>

#include "absl/status/statusor.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace tandem::tokenizer::jinja {

// InvalidArgument "chat template line N: ..." naming the construct, for
// syntax errors and for every unsupported construct.
absl::StatusOr<Body> Parse(std::vector<Token> tokens);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_PARSER_H_
