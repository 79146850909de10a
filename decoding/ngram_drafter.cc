#include "decoding/ngram_drafter.h"

#include <algorithm>

namespace tandem::decoding {

std::vector<int64_t> NgramDraft(const std::vector<int64_t>& tokens, int gamma,
                                int max_n, int min_n) {
  const int64_t len = static_cast<int64_t>(tokens.size());
  if (gamma <= 0) return {};
  for (int64_t n = std::min<int64_t>(max_n, len - 1); n >= std::max(1, min_n); --n) {
    const auto suffix = tokens.end() - n;
    // Most recent match first; the match must end before the suffix starts
    // so that at least one token follows it.
    for (int64_t start = len - n - 1; start >= 0; --start) {
      if (!std::equal(suffix, tokens.end(), tokens.begin() + start)) continue;
      const int64_t from = start + n;
      const int64_t to = std::min<int64_t>(from + gamma, len);
      return std::vector<int64_t>(tokens.begin() + from, tokens.begin() + to);
    }
  }
  return {};
}

}  // namespace tandem::decoding

namespace tandem::decoding {

absl::StatusOr<Proposal> NgramDrafter::Propose(const std::vector<int64_t>& committed,
                                               int gamma) {
  Proposal p;
  p.draft.tokens = NgramDraft(committed, gamma, max_n_, min_n_);
  p.draft.dists.assign(p.draft.tokens.size(), sampling::DraftDistribution::None());
  return p;
}

}  // namespace tandem::decoding
