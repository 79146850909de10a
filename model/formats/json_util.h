#ifndef TANDEM_MODEL_FORMATS_JSON_UTIL_H_
#define TANDEM_MODEL_FORMATS_JSON_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tandem::model::formats {

// An integral JSON number in [0, INT64_MAX]; InvalidArgument otherwise.
absl::StatusOr<int64_t> JsonNonNegativeInt(const nlohmann::json& value);

// The whole file; NotFound naming the path when it cannot be read. Files
// larger than `max_bytes` are rejected (config and index files are small).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, uint64_t max_bytes = 64 << 20);

// Parses `text` as a JSON object; InvalidArgument naming `source` otherwise.
absl::StatusOr<nlohmann::json> ParseJsonObject(const std::string& text, const std::string& source);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_JSON_UTIL_H_
