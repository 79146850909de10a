#ifndef TANDEM_DECODING_NGRAM_DRAFTER_H_
#define TANDEM_DECODING_NGRAM_DRAFTER_H_

#include <cstdint>
#include <vector>

namespace tandem::decoding {

// Prompt lookup decoding: finds the most recent earlier occurrence of the
// sequence's last n tokens (n from max_n down to min_n) and proposes the (up
// to) gamma tokens that followed it. Returns an empty draft when nothing
// matches. No model, no distribution: the verifier treats it as one-hot.
std::vector<int64_t> NgramDraft(const std::vector<int64_t>& tokens, int gamma,
                                int max_n, int min_n);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_NGRAM_DRAFTER_H_
