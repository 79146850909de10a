#ifndef TANDEM_TOKENIZER_CHAT_TEMPLATE_LOADER_H_
#define TANDEM_TOKENIZER_CHAT_TEMPLATE_LOADER_H_

// Finding a model's chat template and the special tokens it refers to:
//  - tokenizer_config.json: `chat_template` (a string, or Hugging Face's list
//    of {"name", "template"} from which "default" is taken) and
//    `bos_token`/`eos_token` (a string or an AddedToken {"content": ...});
//  - a GGUF file: `tokenizer.chat_template`, and the texts of
//    tokenizer.ggml.bos_token_id/eos_token_id in tokenizer.ggml.tokens
//    (metadata read with gguf_vocab.h; tensors are never read).
// Errors name the file and the field: NotFound when the file cannot be read
// or has no chat template, InvalidArgument for malformed fields and for
// templates ChatTemplate::Parse rejects.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/chat_template.h"

namespace tandem::tokenizer {

struct LoadedChatTemplate {
  ChatTemplate chat_template;
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;

  // Options with this model's bos_token/eos_token filled in.
  ChatTemplateOptions DefaultOptions() const;
};

// From tokenizer_config.json text; `source` names it in errors.
absl::StatusOr<LoadedChatTemplate> ParseTokenizerConfigChatTemplate(absl::string_view json_text,
                                                                    absl::string_view source);

// From the tokenizer_config.json file at `path`.
absl::StatusOr<LoadedChatTemplate> LoadTokenizerConfigChatTemplate(const std::string& path);

// From the GGUF file at `path`.
absl::StatusOr<LoadedChatTemplate> LoadGgufChatTemplate(const std::string& path);

// From a model path as LoadTokenizer accepts it: a .gguf file, a
// tokenizer_config.json (or a tokenizer.json beside one), or a directory
// holding tokenizer_config.json.
absl::StatusOr<LoadedChatTemplate> LoadChatTemplate(const std::string& model_path);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_CHAT_TEMPLATE_LOADER_H_
