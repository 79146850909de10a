#ifndef TANDEM_SAMPLING_TOKEN_HISTORY_H_
#define TANDEM_SAMPLING_TOKEN_HISTORY_H_

#include <cstdint>

#include "absl/types/span.h"

namespace tandem::sampling {

// The tokens a sequence has seen so far: the prompt followed by generated tokens.
// A view: the caller owns the storage and keeps it alive while the view is used.
struct TokenHistory {
  absl::Span<const int64_t> tokens;
  // tokens[0, prompt_length) are the prompt; the rest were generated.
  int64_t prompt_length = 0;

  int64_t num_generated() const {
    return static_cast<int64_t>(tokens.size()) - prompt_length;
  }
  absl::Span<const int64_t> generated() const {
    return tokens.subspan(static_cast<size_t>(prompt_length));
  }
};

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_TOKEN_HISTORY_H_
