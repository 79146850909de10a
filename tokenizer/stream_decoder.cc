#include "tokenizer/stream_decoder.h"

#include "tokenizer/utf8.h"

namespace tandem::tokenizer {

absl::StatusOr<std::string> StreamDecoder::Push(int32_t id) {
  auto bytes = tokenizer_.TokenBytes(id);
  if (!bytes.ok()) return bytes.status();
  if (options_.skip_special_tokens && tokenizer_.IsSpecial(id)) return std::string();
  std::string piece = *std::move(bytes);
  if (!started_ && !piece.empty()) {
    started_ = true;
    if (tokenizer_.strips_leading_space() && piece[0] == ' ') piece.erase(0, 1);
  }
  pending_ += piece;
  const size_t keep = IncompleteSuffixLength(pending_);
  std::string out = ToValidUtf8(absl::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out = ToValidUtf8(pending_);
  pending_.clear();
  started_ = false;
  return out;
}

}  // namespace tandem::tokenizer
