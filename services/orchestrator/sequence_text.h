#ifndef TANDEM_SERVICES_ORCHESTRATOR_SEQUENCE_TEXT_H_
#define TANDEM_SERVICES_ORCHESTRATOR_SEQUENCE_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace tandem::services {

// The text of one generated sequence as tokens arrive: streaming deltas that
// are always valid UTF-8, and stop-string detection. Text that could still
// turn out to start a stop string is held back, so a matched stop string is
// never streamed; the text before it is. Not thread-safe.
class SequenceText {
 public:
  SequenceText(const tokenizer::Tokenizer& tokenizer, std::vector<std::string> stop_strings);

  struct Update {
    std::string delta;                       // New text safe to emit.
    std::optional<std::string> matched_stop;  // Set when a stop string matched.
  };

  absl::StatusOr<Update> Push(const std::vector<int64_t>& tokens);
  // At the end: whatever is still held back (nothing after a stop match).
  std::string Finish();
  // The whole text so far (without a matched stop string).
  const std::string& text() const { return text_; }

 private:
  size_t HoldBack() const;

  tokenizer::StreamDecoder decoder_;
  std::vector<std::string> stop_strings_;
  std::string text_;     // Decoded text (cut at a matched stop string).
  size_t emitted_ = 0;   // Bytes of text_ already returned.
  bool stopped_ = false;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_SEQUENCE_TEXT_H_
