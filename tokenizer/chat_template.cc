#include "tokenizer/chat_template.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer {
namespace {

using jinja::Value;

absl::Status CheckUtf8(absl::string_view text, absl::string_view what) {
  if (IsValidUtf8(text)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8"));
}

absl::StatusOr<std::map<std::string, Value>> Variables(absl::Span<const ChatMessage> messages,
                                                       const ChatTemplateOptions& options) {
  std::map<std::string, Value> vars;
  std::vector<Value> list;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string where = absl::StrCat("messages[", i, "]");
    if (auto s = CheckUtf8(messages[i].role, where + ".role"); !s.ok()) return s;
    if (auto s = CheckUtf8(messages[i].content, where + ".content"); !s.ok()) return s;
    Value m = Value::Dict();
    m.dict().Set(Value::String("role"), Value::String(messages[i].role));
    m.dict().Set(Value::String("content"), Value::String(messages[i].content));
    list.push_back(std::move(m));
  }
  vars["messages"] = Value::List(std::move(list));
  vars["tools"] = Value::None();
  vars["documents"] = Value::None();
  vars["add_generation_prompt"] = Value::Bool(options.add_generation_prompt);
  const std::pair<const char*, const std::optional<std::string>*> tokens[] = {
      {"bos_token", &options.bos_token}, {"eos_token", &options.eos_token}};
  for (const auto& [name, token] : tokens) {
    if (!token->has_value()) continue;
    if (auto s = CheckUtf8(**token, name); !s.ok()) return s;
    vars[name] = Value::String(**token);
  }
  const std::set<std::string> reserved = {"messages", "tools", "documents",
                                          "add_generation_prompt", "bos_token", "eos_token"};
  auto add = [&](const std::string& name, Value v) -> absl::Status {
    if (reserved.count(name) > 0 || vars.count(name) > 0) {
      return absl::InvalidArgumentError(absl::StrCat("chat template variable '", name,
                                                     "' is reserved or given twice"));
    }
    vars[name] = std::move(v);
    return absl::OkStatus();
  };
  for (const auto& [name, text] : options.string_variables) {
    if (auto s = CheckUtf8(text, name); !s.ok()) return s;
    if (auto s = add(name, Value::String(text)); !s.ok()) return s;
  }
  for (const auto& [name, flag] : options.bool_variables) {
    if (auto s = add(name, Value::Bool(flag)); !s.ok()) return s;
  }
  return vars;
}

}  // namespace

absl::StatusOr<ChatTemplate> ChatTemplate::Parse(absl::string_view source) {
  auto compiled = jinja::Template::Parse(source);
  if (!compiled.ok()) return compiled.status();
  return ChatTemplate(std::string(source), std::move(*compiled));
}

absl::StatusOr<std::string> ChatTemplate::Render(absl::Span<const ChatMessage> messages,
                                                 const ChatTemplateOptions& options) const {
  auto vars = Variables(messages, options);
  if (!vars.ok()) return vars.status();
  jinja::RenderSettings settings;
  settings.now = options.now.value_or(std::time(nullptr));
  return compiled_.Render(*vars, settings);
}

bool IsTemplateRaisedError(const absl::Status& status) {
  return status.GetPayload(jinja::kRaiseExceptionPayload).has_value();
}

}  // namespace tandem::tokenizer
