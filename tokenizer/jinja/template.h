#ifndef TANDEM_TOKENIZER_JINJA_TEMPLATE_H_
#define TANDEM_TOKENIZER_JINJA_TEMPLATE_H_

// A parsed Jinja template (the jinja2 subset of parser.h), rendered with
// jinja2's semantics in the environment Hugging Face transformers builds for
// chat templates (lexer.h, interpreter.h). Immutable after Parse; Render is
// thread-safe (each call builds its own values). Copies share the tree.

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

class Template {
 public:
  // InvalidArgument "chat template line N: ..." for syntax errors and
  // unsupported constructs (named).
  static absl::StatusOr<Template> Parse(absl::string_view source);

  // Errors as jinja::Render.
  absl::StatusOr<std::string> Render(const std::map<std::string, Value>& variables,
                                     const RenderSettings& settings) const;

 private:
  explicit Template(std::shared_ptr<const Body> body) : body_(std::move(body)) {}

  std::shared_ptr<const Body> body_;
};

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_TEMPLATE_H_
