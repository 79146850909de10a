#ifndef TANDEM_DECODING_NGRAM_DRAFTER_H_
#define TANDEM_DECODING_NGRAM_DRAFTER_H_

#include <cstdint>
#include <vector>

#include "decoding/drafter.h"

namespace tandem::decoding {

// Prompt lookup decoding: finds the most recent earlier occurrence of the
// sequence's last n tokens (n from max_n down to min_n) and proposes the (up
// to) gamma tokens that followed it. Returns an empty draft when nothing
// matches. No model, no distribution: the verifier treats it as one-hot.
std::vector<int64_t> NgramDraft(const std::vector<int64_t>& tokens, int gamma,
                                int max_n, int min_n);

// The n-gram strategy as a Drafter (stateless; never fails).
class NgramDrafter : public Drafter {
 public:
  NgramDrafter(int max_n, int min_n) : max_n_(max_n), min_n_(min_n) {}
  absl::StatusOr<Proposal> Propose(const std::vector<int64_t>& committed, int gamma) override;

 private:
  const int max_n_;
  const int min_n_;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_NGRAM_DRAFTER_H_
