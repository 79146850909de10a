#include "tokenizer/tokenizer_config.h"

namespace tandem::tokenizer {

std::optional<std::string> ConfigSpecialToken(const nlohmann::json& config, absl::string_view key) {
  const std::string k(key);
  if (!config.is_object() || !config.contains(k)) return std::nullopt;
  const nlohmann::json& v = config[k];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  return std::nullopt;
}

}  // namespace tandem::tokenizer
