#ifndef TANDEM_TOKENIZER_TOKENIZER_CONFIG_H_
#define TANDEM_TOKENIZER_TOKENIZER_CONFIG_H_

// Fields of a Hugging Face tokenizer_config.json shared by its readers.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"

namespace tandem::tokenizer {

// A special token field (bos_token, eos_token, ...): a string or an
// AddedToken object {"content": s, ...}. Absent when missing, null or of
// another shape.
std::optional<std::string> ConfigSpecialToken(const nlohmann::json& config, absl::string_view key);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_TOKENIZER_CONFIG_H_
