#ifndef TANDEM_SERVICES_COMMON_RELEVANCE_CONVERT_H_
#define TANDEM_SERVICES_COMMON_RELEVANCE_CONVERT_H_

// tandem.v1 RelevanceOptions / TokenRelevance <-> model/relevance.h, shared
// by the orchestrator (request -> options -> ComputeRelevance call, and the
// answer back into the response) and the target server.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/relevance.h"
#include "proto/tandem/v1/common.pb.h"

namespace tandem::services {

// The API's bounds (documented on v1::RelevanceOptions).
inline constexpr int64_t kDefaultRelevanceSteps = 32;
inline constexpr int64_t kDefaultRelevanceTopN = 8;
inline constexpr int64_t kMaxRelevanceTopN = 64;
inline constexpr int64_t kMaxRelevanceSequence = 2048;    // Prompt + generated tokens.
inline constexpr int64_t kMaxRelevanceTopEntries = 65536;  // top_n × tokens × sequences.
inline constexpr int64_t kMaxRelevanceDenseScores = 1 << 20;

// A validated RelevanceOptions (its `enabled` flag is not looked at).
struct ValidatedRelevance {
  model::RelevanceOptions options;  // max_positions = kMaxRelevanceSequence.
  bool dense = false;
};

// The wire options with the API's defaults (IG, mean-embedding baseline, 32
// steps, top 8) filled in. INVALID_ARGUMENT naming the field under `prefix`
// (e.g. "config.output.relevance.") and its range: an enum value outside its
// enum, steps > 1024, top_n > 64, top_n = 0 without dense, or a baseline or
// steps set with INPUT_X_GRADIENT.
absl::StatusOr<ValidatedRelevance> FromProto(const v1::RelevanceOptions& options,
                                             absl::string_view prefix);
// The inverse (with `enabled` set).
void ToProto(const ValidatedRelevance& relevance, v1::RelevanceOptions* out);

// One token's relevance on the wire: `top` always, the dense scores only
// when `dense`.
void ToProto(const model::TokenRelevance& relevance, bool dense, v1::TokenRelevance* out);
// The inverse; `scores` is empty when the wire has no dense scores, and
// `token` is not on the wire (0).
model::TokenRelevance FromProto(const v1::TokenRelevance& relevance);

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_RELEVANCE_CONVERT_H_
