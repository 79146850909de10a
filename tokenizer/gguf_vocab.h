#ifndef TANDEM_TOKENIZER_GGUF_VOCAB_H_
#define TANDEM_TOKENIZER_GGUF_VOCAB_H_

// A minimal, metadata-only GGUF reader (versions 2 and 3): the header and the
// key/value section, enough to read the tokenizer.ggml.* vocabulary. Tensor
// infos and data are never read. Every read is bounds-checked against the
// file size; malformed files give InvalidArgument naming the file, the key
// and the offset.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tandem::tokenizer {

enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5,
  kFloat32 = 6, kBool = 7, kString = 8, kArray = 9, kUint64 = 10,
  kInt64 = 11, kFloat64 = 12,
};

// One metadata value. Scalars: `number` (integers, floats and bools; exact
// for integers up to 2^53) or `text`. Arrays: `array_type` and
// `strings` or `numbers`; nested arrays are skipped (left empty).
struct GgufValue {
  GgufType type = GgufType::kUint8;
  double number = 0.0;
  std::string text;
  GgufType array_type = GgufType::kUint8;
  std::vector<std::string> strings;
  std::vector<double> numbers;
};

struct GgufMetadata {
  uint32_t version = 0;
  uint64_t tensor_count = 0;
  std::map<std::string, GgufValue> values;

  const GgufValue* Find(absl::string_view key) const;
};

// Reads the metadata of the GGUF file at `path`. NotFound if unreadable.
absl::StatusOr<GgufMetadata> ReadGgufMetadata(const std::string& path);

// The same from bytes already in memory (a prefix of the file is enough).
absl::StatusOr<GgufMetadata> ParseGgufMetadata(absl::string_view bytes,
                                               absl::string_view source);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_GGUF_VOCAB_H_
