#ifndef TANDEM_TOKENIZER_CHAT_TEMPLATE_H_
#define TANDEM_TOKENIZER_CHAT_TEMPLATE_H_

// Chat templates: the Jinja template a model ships (tokenizer_config.json's
// `chat_template`, GGUF's `tokenizer.chat_template`) that turns a
// conversation into the prompt text, rendered byte-for-byte as Hugging Face
// transformers renders it with Python's jinja2 (apply_chat_template with
// tokenize=False): an ImmutableSandboxedEnvironment with trim_blocks,
// lstrip_blocks, loopcontrols, HF's tojson/raise_exception/strftime_now,
// and the variables messages, tools=None, documents=None,
// add_generation_prompt and the special tokens.
//
// Templates using a construct tandem does not implement (docs/chat_templates.md
// lists the subset) fail in Parse, never with a wrong prompt.
//
// Thread-safety: a ChatTemplate is immutable; Render may be called
// concurrently. Copies are cheap (the parsed tree is shared).

#include <ctime>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tokenizer/jinja/template.h"

namespace tandem::tokenizer {

// One turn. Content is plain text (no tool calls, no multi-part content).
struct ChatMessage {
  std::string role;  // "system", "user", "assistant", ...
  std::string content;
};

struct ChatTemplateOptions {
  // Append the opening of an assistant turn (HF add_generation_prompt).
  bool add_generation_prompt = false;
  // The tokenizer's special tokens; absent = undefined in the template (as
  // HF omits a special token the tokenizer does not have).
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  // Further template variables (HF's **kwargs), e.g. {"enable_thinking",
  // false} for Qwen3 or {"pad_token", "<pad>"}. They may not redefine
  // messages, tools, documents, add_generation_prompt, bos/eos_token.
  std::map<std::string, std::string> string_variables;
  std::map<std::string, bool> bool_variables;
  // The instant strftime_now() formats (local time); absent = now.
  std::optional<std::time_t> now;
};

class ChatTemplate {
 public:
  // InvalidArgument "chat template line N: ..." for syntax errors and
  // unsupported constructs (e.g. "unsupported construct '{% macro %}'",
  // "unsupported filter 'wordcount'").
  static absl::StatusOr<ChatTemplate> Parse(absl::string_view source);

  // The prompt text. InvalidArgument for invalid UTF-8 in the messages or
  // options, for a clashing variable name, for the template's own
  // raise_exception(msg) (the status message is then exactly msg, e.g.
  // "Conversation roles must alternate user/assistant/user/assistant/...")
  // and for runtime errors ("chat template line N: ..."); ResourceExhausted
  // past 16 MiB of output.
  absl::StatusOr<std::string> Render(absl::Span<const ChatMessage> messages,
                                     const ChatTemplateOptions& options) const;

  const std::string& source() const { return source_; }

 private:
  ChatTemplate(std::string source, jinja::Template compiled)
      : source_(std::move(source)), compiled_(std::move(compiled)) {}

  std::string source_;
  jinja::Template compiled_;
};

// True if `status` came from the template's raise_exception(): the message
// is the template author's, meant for the user (e.g. roles must alternate).
bool IsTemplateRaisedError(const absl::Status& status);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_CHAT_TEMPLATE_H_
