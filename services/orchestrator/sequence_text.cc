#include "services/orchestrator/sequence_text.h"

#include <algorithm>

namespace tandem::services {

SequenceText::SequenceText(const tokenizer::Tokenizer& tokenizer,
                           std::vector<std::string> stop_strings)
    : decoder_(tokenizer), stop_strings_(std::move(stop_strings)) {}

size_t SequenceText::HoldBack() const {
  // The longest suffix of the unemitted text that is a proper prefix of a
  // stop string.
  size_t hold = 0;
  const size_t pending = text_.size() - emitted_;
  for (const std::string& stop : stop_strings_) {
    for (size_t len = std::min(pending, stop.size() - 1); len > hold; --len) {
      if (text_.compare(text_.size() - len, len, stop, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

absl::StatusOr<SequenceText::Update> SequenceText::Push(const std::vector<int64_t>& tokens) {
  Update update;
  if (stopped_) return update;
  const size_t before = text_.size();
  for (int64_t t : tokens) {
    absl::StatusOr<std::string> piece = decoder_.Push(static_cast<int32_t>(t));
    if (!piece.ok()) return piece.status();
    text_ += *piece;
  }
  // A stop string can only start where it could overlap the new text.
  size_t best = std::string::npos;
  for (const std::string& stop : stop_strings_) {
    const size_t from = before >= stop.size() ? before - stop.size() + 1 : 0;
    const size_t at = text_.find(stop, from);
    if (at != std::string::npos && at < best) {
      best = at;
      update.matched_stop = stop;
    }
  }
  if (update.matched_stop) {
    text_.resize(best);
    stopped_ = true;
    update.delta = text_.substr(std::min(emitted_, text_.size()));
    emitted_ = text_.size();
    return update;
  }
  const size_t safe = text_.size() - HoldBack();
  if (safe > emitted_) {
    update.delta = text_.substr(emitted_, safe - emitted_);
    emitted_ = safe;
  }
  return update;
}

std::string SequenceText::Finish() {
  if (!stopped_) text_ += decoder_.Flush();
  std::string rest = emitted_ < text_.size() ? text_.substr(emitted_) : "";
  emitted_ = text_.size();
  return rest;
}

}  // namespace tandem::services
