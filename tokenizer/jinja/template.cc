#include "tokenizer/jinja/template.h"

#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/parser.h"

namespace tandem::tokenizer::jinja {

absl::StatusOr<Template> Template::Parse(absl::string_view source) {
  auto tokens = Tokenize(source);
  if (!tokens.ok()) return tokens.status();
  auto body = jinja::Parse(std::move(*tokens));
  if (!body.ok()) return body.status();
  return Template(std::make_shared<const Body>(std::move(*body)));
}

absl::StatusOr<std::string> Template::Render(const std::map<std::string, Value>& variables,
                                             const RenderSettings& settings) const {
  return jinja::Render(*body_, variables, settings);
}

}  // namespace tandem::tokenizer::jinja
