#ifndef TANDEM_TOKENIZER_HF_COMPONENTS_H_
#define TANDEM_TOKENIZER_HF_COMPONENTS_H_

// Parsers for the pipeline sections of a Hugging Face tokenizer.json:
// "normalizer", "pre_tokenizer", "post_processor" and "decoder". Each returns
// InvalidArgument (malformed) or Unimplemented (a type tandem does not
// support), naming the JSON path, e.g. `pre_tokenizer.pretokenizers[1]`.
//
// Supported types:
//   normalizer:     NFC NFD NFKC NFKD Prepend Replace(String) Lowercase Sequence
//   pre_tokenizer:  Split ByteLevel Metaspace Digits Sequence
//   post_processor: TemplateProcessing(single) ByteLevel RobertaProcessing
//                   BertProcessing Sequence
//   decoder:        ByteLevel Replace(String) ByteFallback Fuse Strip
//                   Metaspace Sequence

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace tandem::tokenizer {

// Token ids a tokenizer.json may use: [0, kMaxHfTokenId).
inline constexpr int64_t kMaxHfTokenId = int64_t{1} << 24;

// A JSON integer in [0, limit) (limit <= kMaxHfTokenId) as a token id; any
// other value (float, string, negative, too large) is InvalidArgument naming
// `path`. Never narrows silently.
absl::StatusOr<int32_t> ParseHfTokenId(const nlohmann::json& j, const std::string& path,
                                       int64_t limit = kMaxHfTokenId);

absl::StatusOr<Normalizer> ParseHfNormalizer(const nlohmann::json& j,
                                             const std::string& path);

absl::StatusOr<PreTokenizer> ParseHfPreTokenizer(const nlohmann::json& j,
                                                 const std::string& path);

struct PostProcessorIds {
  std::vector<int32_t> prefix;
  std::vector<int32_t> suffix;
};
absl::StatusOr<PostProcessorIds> ParseHfPostProcessor(const nlohmann::json& j,
                                                      const std::string& path);

absl::StatusOr<BpeDecoderConfig> ParseHfDecoder(const nlohmann::json& j,
                                                const std::string& path);

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_HF_COMPONENTS_H_
