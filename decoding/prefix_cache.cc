#include "decoding/prefix_cache.h"

#include <algorithm>
#include <utility>

namespace tandem::decoding {

PrefixCache::~PrefixCache() {
  while (EvictOne()) {
  }
}

void PrefixCache::Retire(model::SequenceId sequence, std::vector<int64_t> tokens) {
  const int64_t length = std::min<int64_t>(static_cast<int64_t>(tokens.size()),
                                           model_.Length(sequence));
  if (!enabled() || length < options_.min_tokens) {
    model_.Release(sequence);
    return;
  }
  tokens.resize(length);
  // Drafts beyond the committed tokens are not part of the prefix.
  if (model_.DraftLength(sequence) > length && !model_.Truncate(sequence, length).ok()) {
    model_.Release(sequence);
    return;
  }
  // An entry that is a prefix of the new one is redundant.
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->tokens.size() <= tokens.size() &&
        std::equal(it->tokens.begin(), it->tokens.end(), tokens.begin())) {
      model_.Release(it->sequence);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  entries_.push_front({sequence, std::move(tokens)});
  while (static_cast<int64_t>(entries_.size()) > options_.max_entries) EvictOne();
}

int64_t PrefixCache::Adopt(absl::Span<const int64_t> tokens, model::SequenceId destination) {
  if (!enabled()) return 0;
  auto best = entries_.end();
  int64_t best_length = 0;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const size_t limit = std::min(it->tokens.size(), tokens.size());
    size_t common = 0;
    while (common < limit && it->tokens[common] == tokens[common]) ++common;
    if (static_cast<int64_t>(common) > best_length) {
      best_length = static_cast<int64_t>(common);
      best = it;
    }
  }
  if (best == entries_.end() || best_length < options_.min_tokens) return 0;
  // Most recently used first.
  entries_.splice(entries_.begin(), entries_, best);
  absl::Status copied = model_.Fork(best->sequence, destination, best_length);
  // Out of memory or sequence slots: make room from the other entries.
  while (!copied.ok() && copied.code() == absl::StatusCode::kResourceExhausted &&
         entries_.size() > 1) {
    model_.Release(entries_.back().sequence);
    entries_.pop_back();
    copied = model_.Fork(best->sequence, destination, best_length);
  }
  if (!copied.ok()) {
    model_.Release(destination);
    return 0;
  }
  ++hits_;
  reused_tokens_ += best_length;
  return best_length;
}

bool PrefixCache::EvictOne() {
  if (entries_.empty()) return false;
  model_.Release(entries_.back().sequence);
  entries_.pop_back();
  return true;
}

}  // namespace tandem::decoding
