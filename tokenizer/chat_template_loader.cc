#include "tokenizer/chat_template_loader.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tokenizer_config.h"

namespace tandem::tokenizer {
namespace {

using json = nlohmann::json;

absl::Status Bad(absl::string_view source, absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", field, ": ", what));
}

absl::StatusOr<ChatTemplate> ParseIn(absl::string_view source, absl::string_view field,
                                     absl::string_view text) {
  auto parsed = ChatTemplate::Parse(text);
  if (!parsed.ok()) return Bad(source, field, parsed.status().message());
  return parsed;
}

// The `chat_template` field: a string or [{"name": ..., "template": ...}].
absl::StatusOr<std::string> TemplateField(const json& config, absl::string_view source) {
  if (!config.is_object() || !config.contains("chat_template") || config["chat_template"].is_null()) {
    return absl::NotFoundError(absl::StrCat(source, ": no chat_template"));
  }
  const json& field = config["chat_template"];
  if (field.is_string()) return field.get<std::string>();
  if (!field.is_array()) return Bad(source, "chat_template", "neither a string nor a list");
  for (const json& entry : field) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
        !entry["name"].is_string() || !entry["template"].is_string()) {
      return Bad(source, "chat_template", "list entries must be {\"name\": str, \"template\": str}");
    }
    if (entry["name"] == "default") return entry["template"].get<std::string>();
  }
  return Bad(source, "chat_template", "the list has no template named \"default\"");
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::optional<std::string> TokenText(const GgufMetadata& meta, const char* key) {
  const GgufValue* id = meta.Find(key);
  const GgufValue* tokens = meta.Find("tokenizer.ggml.tokens");
  if (id == nullptr || tokens == nullptr || id->type == GgufType::kString ||
      id->type == GgufType::kArray || id->number < 0 ||
      id->number >= static_cast<double>(tokens->strings.size())) {
    return std::nullopt;
  }
  return tokens->strings[static_cast<size_t>(id->number)];
}

}  // namespace

ChatTemplateOptions LoadedChatTemplate::DefaultOptions() const {
  ChatTemplateOptions options;
  options.bos_token = bos_token;
  options.eos_token = eos_token;
  return options;
}

absl::StatusOr<LoadedChatTemplate> ParseTokenizerConfigChatTemplate(absl::string_view json_text,
                                                                    absl::string_view source) {
  const json config = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (config.is_discarded()) return Bad(source, "(file)", "malformed JSON");
  auto text = TemplateField(config, source);
  if (!text.ok()) return text.status();
  auto parsed = ParseIn(source, "chat_template", *text);
  if (!parsed.ok()) return parsed.status();
  return LoadedChatTemplate{std::move(*parsed), ConfigSpecialToken(config, "bos_token"),
                            ConfigSpecialToken(config, "eos_token")};
}

absl::StatusOr<LoadedChatTemplate> LoadTokenizerConfigChatTemplate(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseTokenizerConfigChatTemplate(*text, path);
}

absl::StatusOr<LoadedChatTemplate> LoadGgufChatTemplate(const std::string& path) {
  auto meta = ReadGgufMetadata(path);
  if (!meta.ok()) return meta.status();
  const GgufValue* field = meta->Find("tokenizer.chat_template");
  if (field == nullptr) return absl::NotFoundError(absl::StrCat(path, ": no tokenizer.chat_template"));
  if (field->type != GgufType::kString) return Bad(path, "tokenizer.chat_template", "not a string");
  auto parsed = ParseIn(path, "tokenizer.chat_template", field->text);
  if (!parsed.ok()) return parsed.status();
  return LoadedChatTemplate{std::move(*parsed), TokenText(*meta, "tokenizer.ggml.bos_token_id"),
                            TokenText(*meta, "tokenizer.ggml.eos_token_id")};
}

absl::StatusOr<LoadedChatTemplate> LoadChatTemplate(const std::string& model_path) {
  if (absl::EndsWith(model_path, ".gguf")) return LoadGgufChatTemplate(model_path);
  if (IsDirectory(model_path)) return LoadTokenizerConfigChatTemplate(model_path + "/tokenizer_config.json");
  if (absl::EndsWith(model_path, "tokenizer_config.json")) return LoadTokenizerConfigChatTemplate(model_path);
  const size_t slash = model_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : model_path.substr(0, slash);
  return LoadTokenizerConfigChatTemplate(dir + "/tokenizer_config.json");
}

}  // namespace tandem::tokenizer
