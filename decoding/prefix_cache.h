#ifndef TANDEM_DECODING_PREFIX_CACHE_H_
#define TANDEM_DECODING_PREFIX_CACHE_H_

#include <cstdint>
#include <list>
#include <vector>

#include "absl/types/span.h"
#include "model/model.h"

namespace tandem::decoding {

// Prefix caching across sessions: the KV caches of recently closed sessions
// are kept (not released), keyed by the tokens they hold, and a new session
// whose prompt starts with one of them copies that prefix (Model::Fork: a
// copy of the cached keys and values, exact) instead of running it again.
// Least recently used entries are released first: beyond `max_entries`, and
// whenever the owner needs their memory or sequence slots (EvictOne).
//
// Thread-compatible: the owning SessionTable serializes calls.
struct PrefixCacheStats {
  int64_t entries = 0;        // Kept sequences now.
  // Sessions opened on a copied prefix so far (a kept one, or an open
  // session's: SessionTable).
  int64_t hits = 0;
  int64_t reused_tokens = 0;  // Positions copied instead of recomputed, so far.
};

class PrefixCache {
 public:
  struct Options {
    int64_t max_entries = 0;  // Retired sequences kept; 0 = off.
    // Shorter prefixes are not worth a copy: they are neither kept nor used.
    int64_t min_tokens = 16;
  };

  PrefixCache(model::Model& model, Options options) : model_(model), options_(options) {}
  ~PrefixCache();

  bool enabled() const { return options_.max_entries > 0; }

  // Takes over `sequence`, whose full-model cache holds `tokens`, instead of
  // its release. Released at once when off or shorter than min_tokens.
  void Retire(model::SequenceId sequence, std::vector<int64_t> tokens);

  // Copies the longest kept prefix of `tokens` (>= min_tokens) into
  // `destination` (a sequence the model does not have yet) and returns its
  // length; 0 when there is none or the copy failed (`destination` is then
  // absent).
  int64_t Adopt(absl::Span<const int64_t> tokens, model::SequenceId destination);

  // Releases the least recently used entry; false when there is none.
  bool EvictOne();

  // Counts a prefix of `tokens` positions the owner copied from elsewhere
  // (an open session's cache) into a new session, in hits / reused_tokens.
  void RecordCopy(int64_t tokens) {
    ++hits_;
    reused_tokens_ += tokens;
  }
  int64_t min_tokens() const { return options_.min_tokens; }

  int64_t size() const { return static_cast<int64_t>(entries_.size()); }
  PrefixCacheStats stats() const { return {size(), hits_, reused_tokens_}; }
  int64_t hits() const { return hits_; }
  int64_t reused_tokens() const { return reused_tokens_; }

 private:
  struct Entry {
    model::SequenceId sequence;
    std::vector<int64_t> tokens;
  };

  model::Model& model_;
  Options options_;
  std::list<Entry> entries_;  // Most recently used first.
  int64_t hits_ = 0;
  int64_t reused_tokens_ = 0;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_PREFIX_CACHE_H_
